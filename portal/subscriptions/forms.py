"""Forms of the subscription flow (WTForms through Flask-WTF: CSRF on every POST)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

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
    accept = BooleanField(
        _l("J'accepte les conditions de l'offre décrites ci-dessus"),
        validators=[
            DataRequired(message=_l("Cochez cette case pour accepter les conditions de l'offre."))
        ],
    )


class ConfirmForm(FlaskForm):
    """A button behind a confirmation page (cancel, terminate)."""
