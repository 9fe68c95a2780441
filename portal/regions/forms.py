"""Forms of the region back-office (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.regions.models import SubsidyRule
from portal.regions.programmes import ProgrammeData

RULE_LABELS = {
    SubsidyRule.FREE: _l("Gratuité : la région prend tout en charge"),
    SubsidyRule.PERCENT: _l("Un pourcentage du prix"),
    SubsidyRule.AMOUNT: _l("Un montant par boîte aux lettres et par mois"),
}


class ProgrammeForm(FlaskForm):
    name_fr = StringField(
        _l("Nom du programme en français"),
        validators=[DataRequired(_l("Donnez un nom au programme, en français.")), Length(max=160)],
    )
    name_en = StringField(
        _l("Nom du programme en anglais"),
        validators=[DataRequired(_l("Donnez un nom au programme, en anglais.")), Length(max=160)],
    )
    offer_id = SelectField(_l("Offre financée"), coerce=int, validate_choice=False)
    rule = RadioField(
        _l("Prise en charge"),
        choices=[SelectChoice(rule.value, label) for rule, label in RULE_LABELS.items()],
        default=SubsidyRule.FREE.value,
        validators=[DataRequired(_l("Choisissez comment la région prend en charge l’offre."))],
    )
    value = DecimalField(
        _l("Pourcentage, ou montant en euros"),
        places=2,
        validators=[Optional(), NumberRange(min=0, message=_l("Indiquez un nombre positif."))],
    )
    duration_months = IntegerField(
        _l("Durée de la prise en charge, en mois"),
        validators=[
            Optional(),
            NumberRange(min=1, max=120, message=_l("Indiquez une durée de 1 à 120 mois.")),
        ],
    )
    structure_types = SelectMultipleField(_l("Types de structures éligibles"), validate_choice=True)
    professions = SelectMultipleField(_l("Professions éligibles"), validate_choice=True)
    departments = SelectMultipleField(_l("Départements couverts"), validate_choice=True)
    quota_mailboxes = IntegerField(
        _l("Quota de boîtes aux lettres"),
        validators=[
            Optional(),
            NumberRange(
                min=1, message=_l("Indiquez un quota d’au moins une boîte, ou laissez vide.")
            ),
        ],
    )
    budget = DecimalField(
        _l("Budget en euros"),
        places=2,
        validators=[
            Optional(),
            NumberRange(min=0, message=_l("Indiquez un budget positif, ou laissez vide.")),
        ],
    )
    needs_approval = BooleanField(_l("Chaque commande doit être approuvée par la région"))
    starts_on = DateField(
        _l("Date de début"),
        validators=[Optional()],
        render_kw={"type": "date"},
    )
    ends_on = DateField(_l("Date de fin"), validators=[Optional()], render_kw={"type": "date"})

    def data_for_service(self) -> ProgrammeData:
        rule = self.rule.data
        value = None
        if self.value.data is not None:
            value = (
                int(self.value.data)
                if rule == SubsidyRule.PERCENT
                else int(self.value.data * 100)  # euros per mailbox-month, kept in cents
            )
        budget = self.budget.data
        return ProgrammeData(
            name_fr=self.name_fr.data.strip(),
            name_en=self.name_en.data.strip(),
            offer_id=self.offer_id.data or 0,
            rule=rule,
            value=value,
            duration_months=self.duration_months.data,
            structure_types=list(self.structure_types.data or []),
            professions=list(self.professions.data or []),
            departments=list(self.departments.data or []),
            quota_mailboxes=self.quota_mailboxes.data,
            budget_cents=int(budget * 100) if budget is not None else None,
            needs_approval=bool(self.needs_approval.data),
            starts_on=self.starts_on.data,
            ends_on=self.ends_on.data,
        )

    def fill_from(self, programme) -> None:
        self.name_fr.data = programme.name.get("fr", "")
        self.name_en.data = programme.name.get("en", "")
        self.offer_id.data = programme.offer_id
        self.rule.data = programme.rule
        if programme.value is not None:
            self.value.data = (
                Decimal(programme.value)
                if programme.rule == SubsidyRule.PERCENT
                else Decimal(programme.value) / 100
            )
        self.duration_months.data = programme.duration_months
        self.structure_types.data = list(programme.structure_types)
        self.professions.data = list(programme.professions)
        self.departments.data = list(programme.departments)
        self.quota_mailboxes.data = programme.quota_mailboxes
        if programme.budget_cents is not None:
            self.budget.data = Decimal(programme.budget_cents) / 100
        self.needs_approval.data = programme.needs_approval
        self.starts_on.data = programme.starts_on
        self.ends_on.data = programme.ends_on


class BulkOrderForm(FlaskForm):
    programme_id = SelectField(_l("Programme"), coerce=int, validate_choice=False)
    file = FileField(_l("Fichier CSV"))


class DecisionForm(FlaskForm):
    reason = TextAreaField(
        _l("Motif (obligatoire pour un refus)"), validators=[Optional(), Length(max=1000)]
    )
