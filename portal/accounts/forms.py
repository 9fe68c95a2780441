"""Forms of the accounts pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from portal.accounts.models import Role
from portal.accounts.roles import ROLE_LABELS

_EMAIL_REQUIRED = _l("Saisissez votre adresse e-mail.")
_EMAIL_FORMAT = _l("Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.")


class SignInForm(FlaskForm):
    email = EmailField(
        _l("Adresse e-mail"),
        validators=[DataRequired(_EMAIL_REQUIRED), Email(_EMAIL_FORMAT), Length(max=254)],
    )
    password = PasswordField(
        _l("Mot de passe"), validators=[DataRequired(_l("Saisissez votre mot de passe."))]
    )


class ResetRequestForm(FlaskForm):
    email = EmailField(
        _l("Adresse e-mail"),
        validators=[DataRequired(_EMAIL_REQUIRED), Email(_EMAIL_FORMAT), Length(max=254)],
    )


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Nouveau mot de passe"),
        validators=[DataRequired(_l("Choisissez un mot de passe."))],
    )
    confirm = PasswordField(
        _l("Confirmez le mot de passe"),
        validators=[
            DataRequired(_l("Saisissez le mot de passe une deuxième fois.")),
            EqualTo("password", _l("Les deux mots de passe ne sont pas identiques.")),
        ],
    )


class AcceptInvitationForm(NewPasswordForm):
    display_name = StringField(
        _l("Prénom et nom"),
        validators=[DataRequired(_l("Saisissez votre prénom et votre nom.")), Length(max=200)],
    )


class InvitationForm(FlaskForm):
    email = EmailField(
        _l("Adresse e-mail de la personne invitée"),
        validators=[
            DataRequired(_l("Saisissez l’adresse e-mail de la personne à inviter.")),
            Email(_EMAIL_FORMAT),
            Length(max=254),
        ],
    )
    role = SelectField(
        _l("Rôle"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[DataRequired(_l("Choisissez un rôle."))],
    )
    region_code = SelectField(
        _l("Région (administrateur·rice régional·e)"), validators=[Optional()]
    )
    operator_id = SelectField(
        _l("Opérateur (administrateur·rice d’opérateur)"), validators=[Optional()]
    )
    structure_id = SelectField(_l("Structure (gestionnaire de structure)"), validators=[Optional()])

    def scope_errors(self) -> bool:
        """The scope field the chosen role needs must be filled; says so on that field."""
        needed = {
            Role.REGION_ADMIN.value: (self.region_code, _l("Choisissez la région.")),
            Role.OPERATOR_ADMIN.value: (self.operator_id, _l("Choisissez l’opérateur.")),
            Role.STRUCTURE_MANAGER.value: (self.structure_id, _l("Choisissez la structure.")),
        }.get(self.role.data)
        if needed and not needed[0].data:
            needed[0].errors = [*needed[0].errors, needed[1]]
            return True
        return False
