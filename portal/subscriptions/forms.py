"""Forms of the subscription flow (WTForms through Flask-WTF: CSRF on every POST)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

OTHER = "other"


class AddressForm(FlaskForm):
    choice = RadioField(_l("Adresse proposée"), validate_choice=False)
    local_part = StringField(
        _l("Autre adresse : partie avant le @"),
        validators=[Length(max=64, message=_l("64 caractères au plus."))],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )
    domain = SelectField(_l("Domaine"), validate_choice=False)


class SummaryForm(FlaskForm):
    idempotency_key = HiddenField()
    # Asked only when the account has no e-mail address (Pro Santé Connect gives none).
    contact_email = EmailField(
        _l("Adresse e-mail pour recevoir la confirmation et les réglages de connexion"),
        description=_l(
            "Facultatif. Sans adresse, retrouvez ces informations sur la page de la commande."
        ),
        validators=[
            Optional(),
            Email(_l("Saisissez une adresse e-mail valide, par exemple nom@exemple.fr.")),
            Length(max=254),
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )
    accept = BooleanField(
        _l("J'accepte les conditions de l'offre décrites ci-dessus"),
        validators=[
            DataRequired(message=_l("Cochez cette case pour accepter les conditions de l'offre."))
        ],
    )


class ConfirmForm(FlaskForm):
    """A button behind a confirmation page (cancel, terminate)."""
