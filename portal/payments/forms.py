"""Forms of the payment pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional, Regexp


class PurchaseOrderForm(FlaskForm):
    number = StringField(
        _l("Votre numéro de bon de commande (facultatif)"),
        validators=[
            Optional(),
            Length(max=60, message=_l("Le numéro tient en 60 caractères au plus.")),
            Regexp(
                r"^[\w ./-]+$",
                message=_l(
                    "Le numéro ne peut contenir que des lettres, des chiffres, des espaces "
                    "et les signes . / -"
                ),
            ),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )


class ConfirmationForm(FlaskForm):
    """A form with only its CSRF token: for actions confirmed on a page of their own."""
