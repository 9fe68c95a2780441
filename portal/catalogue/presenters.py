"""Turn catalogue entries into what pages, CSV files and the API show.

Templates never decide how a value reads: a presenter formats every grid value once
(:func:`attribute_cell`), in the active language, and the offer page, the comparison table and
the CSV exports all use it, so an attribute added in the data reads the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from portal.catalogue.filters import (
    CATALOGUE_FILTERS,
    FIELDSETS,
    OPERATOR_KIND_LABELS,
    SORTS,
    CatalogueFilter,
    FilterState,
    Kind,
    SearchResult,
)
from portal.catalogue.index import (
    AttributeInfo,
    CatalogueEntry,
    CatalogueIndex,
    ProgrammeInfo,
)
from portal.catalogue.models import BillingPeriod, MailboxType
from portal.i18n import current_language, localised
from portal.money import format_money, format_percent_bp
from portal.subscriptions.quotes import per_mailbox_month_cents

GROUP_LABELS = {
    "price": _l("Prix"),
    "audience": _l("Types de boîtes et public"),
    "access": _l("Accès et mobilité"),
    "integration": _l("Intégration"),
    "limits": _l("Limites"),
    "support": _l("Assistance"),
    "compliance": _l("Conformité"),
}
# Units are written in French in the data; these are the ones the seed uses.
UNIT_LABELS = {
    "€ HT / mois": _l("€ HT / mois"),
    "€ HT": _l("€ HT"),
    "mois": _l("mois"),
    "Mo": _l("Mo"),
    "Go": _l("Go"),
    "jours": _l("jours"),
    "utilisateurs": _l("utilisateurs"),
}
# The card shows the first three of these an offer has; others follow in grid order.
KEY_FEATURES = (
    "mobile_app",
    "psc_login",
    "lps_access",
    "webmail_responsive",
    "imap_smtp",
    "delegation",
    "patient_messaging",
    "api_access",
    "webmail",
)
IGNORED_REASONS = {
    "unknown_value": _l("« %(value)s » n’est pas une valeur possible pour « %(filter)s »."),
    "not_a_number": _l("« %(value)s » n’est pas un nombre valable pour « %(filter)s »."),
    "duplicate": _l("« %(value)s » était demandé deux fois pour « %(filter)s »."),
    "one_value_only": _l("« %(filter)s » n’accepte qu’une valeur ; « %(value)s » a été ignoré."),
    "outside_region": _l(
        "La région demandée ne contient pas le département choisi ; seul le département compte."
    ),
}


def text(label: Any) -> str:
    """Text of a label from the data ({fr, en}) or from the code (a lazy string)."""
    if isinstance(label, dict):
        return localised(label)
    return "" if label is None else str(label)


def money(cents: int, currency: str = "EUR") -> str:
    return format_money(cents, currency, current_language())


def unit_text(unit: str | None) -> str:
    if not unit:
        return ""
    return str(UNIT_LABELS.get(unit, unit))


def number(value: int | float) -> str:
    return format_decimal(value, locale="fr_FR" if current_language() == "fr" else "en_GB")


def filter_label(spec: CatalogueFilter, index: CatalogueIndex) -> str:
    if spec.label is not None:
        return text(spec.label)
    attribute = index.attributes_by_key.get(spec.attribute or "")
    return text(attribute.label) if attribute else spec.param


def choice_label(index: CatalogueIndex, param: str, value: str) -> str:
    for choice in index.choices.get(param, ()):
        if choice.value == value:
            return text(choice.label)
    return value


# --- one value of the grid --------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    known: bool = True  # False: the offer does not say


def price_text(entry: CatalogueEntry) -> str:
    if entry.price_cents == 0:
        return _("Gratuit")
    if entry.billing_period == BillingPeriod.YEAR:
        return _(
            "%(price)s HT par an (soit %(monthly)s HT par mois)",
            price=money(entry.price_cents, entry.currency),
            monthly=money(entry.monthly_price_cents, entry.currency),
        )
    return _("%(price)s HT par mois", price=money(entry.price_cents, entry.currency))


def _price_cell(attribute: AttributeInfo, entry: CatalogueEntry) -> Cell:
    if attribute.path == "price.amount_cents":
        return Cell(price_text(entry))
    if attribute.path == "price.setup_fee_cents":
        if entry.setup_fee_cents == 0:
            return Cell(_("Aucun"))
        return Cell(_("%(price)s HT", price=money(entry.setup_fee_cents, entry.currency)))
    if attribute.path == "price.commitment_months":
        if entry.commitment_months == 0:
            return Cell(_("Sans engagement"))
        return Cell(
            ngettext("%(num)d mois", "%(num)d mois", entry.commitment_months)
        )  # same word in French, "month(s)" in English
    return Cell(_("Non renseigné"), known=False)


def _audience_cell(attribute: AttributeInfo, entry: CatalogueEntry) -> Cell:
    key = (attribute.path or attribute.key).split(".")[-1]
    values = getattr(entry, key, None)
    if values is None:
        return Cell(_("Non renseigné"), known=False)
    if values:
        return Cell(", ".join(text(attribute.option_label(v)) for v in values))
    if key == "professions":
        personal = MailboxType.PER in entry.mailbox_types or MailboxType.CAB in entry.mailbox_types
        return Cell(_("Toutes les professions de santé") if personal else _("Sans objet"))
    if key == "structure_types":
        shared = MailboxType.ORG in entry.mailbox_types or MailboxType.APP in entry.mailbox_types
        return Cell(
            _("Tous les types de structure") if shared else _("Sans objet (boîtes personnelles)")
        )
    return Cell(_("Aucun"))


def _feature_cell(attribute: AttributeInfo, entry: CatalogueEntry) -> Cell:
    if attribute.key not in entry.features:
        return Cell(_("Non renseigné"), known=False)
    value = entry.features[attribute.key]
    if value is None:
        if attribute.null_means:
            return Cell(localised(attribute.null_means))
        return Cell(_("Non renseigné"), known=False)
    if isinstance(value, bool):
        return Cell(_("Oui") if value else _("Non"))
    if isinstance(value, int | float):
        unit = unit_text(attribute.unit)
        return Cell(f"{number(value)} {unit}".strip())
    if isinstance(value, dict):
        return Cell(localised(value))
    if isinstance(value, list):
        if not value:
            return Cell(_("Aucun"))
        return Cell(", ".join(text(attribute.option_label(v)) for v in value))
    return Cell(str(value))


def attribute_cell(attribute: AttributeInfo, entry: CatalogueEntry) -> Cell:
    """How one attribute of one offer reads, in the active language."""
    if attribute.source == "price":
        return _price_cell(attribute, entry)
    if attribute.source == "audience":
        return _audience_cell(attribute, entry)
    return _feature_cell(attribute, entry)


# --- cards ------------------------------------------------------------------------------------


@dataclass
class OfferCard:
    slug: str
    name: str
    url: str
    operator_name: str
    operator_kind: str
    demo: bool
    summary: str
    mailbox_types: list[tuple[str, str]]
    audience: list[str]
    coverage: str
    price: str
    price_note: str | None
    subsidies: list[str]
    key_features: list[str]


def coverage_text(entry: CatalogueEntry, index: CatalogueIndex, *, only: bool = True) -> str:
    if entry.coverage_national:
        return _("Partout en France")
    places = [index.region_names.get(code, code) for code in entry.coverage_regions]
    places += [
        f"{d.name} ({d.code})"
        for code in entry.coverage_departments
        if (d := index.department_by_code.get(code))
    ]
    if not only:
        return ", ".join(places)
    return _("Uniquement : %(places)s", places=", ".join(places))


def audience_lines(entry: CatalogueEntry, index: CatalogueIndex) -> list[str]:
    lines = []
    personal = MailboxType.PER in entry.mailbox_types or MailboxType.CAB in entry.mailbox_types
    shared = MailboxType.ORG in entry.mailbox_types or MailboxType.APP in entry.mailbox_types
    if personal:
        professions = index.attributes_by_key.get("professions")
        if entry.professions and professions:
            names = ", ".join(text(professions.option_label(c)) for c in entry.professions)
            lines.append(_("Professionnels : %(names)s", names=names))
        else:
            lines.append(_("Tout professionnel de santé"))
    if shared:
        structures = index.attributes_by_key.get("structure_types")
        if entry.structure_types and structures:
            names = ", ".join(text(structures.option_label(c)) for c in entry.structure_types)
            lines.append(_("Structures : %(names)s", names=names))
        else:
            lines.append(_("Tout type de structure"))
    return lines


def subsidy_rule_text(programme: ProgrammeInfo, entry: CatalogueEntry) -> str:
    if programme.rule == "free":
        return _("Prise en charge intégrale par la région")
    if programme.rule == "percent" and programme.value is not None:
        return _("Prise en charge de %(percent)s par la région", percent=_percent(programme.value))
    if programme.rule == "amount" and programme.value is not None:
        return _(
            "Aide de %(amount)s par boîte et par mois versée par la région",
            amount=money(programme.value, entry.currency),
        )
    return _("Aide régionale")


def _percent(value: int) -> str:
    return format_percent_bp(value * 100, current_language())


def subsidised_monthly_cents(programme: ProgrammeInfo, entry: CatalogueEntry) -> int:
    """The monthly price per mailbox left to pay under a programme, by the subsidy rules of
    portal.subscriptions.quotes (the quote made at subscription decides for a given order)."""
    price = entry.monthly_price_cents
    return price - per_mailbox_month_cents(programme, price)


def card_subsidies(
    entry: CatalogueEntry, index: CatalogueIndex, region: str | None, today: dt.date
) -> list[str]:
    open_programmes = [p for p in entry.programmes if p.is_open_on(today)]
    if region:
        return [
            _(
                "%(rule)s en %(region)s",
                rule=subsidy_rule_text(p, entry),
                region=index.region_names.get(p.region_code, p.region_code),
            )
            for p in open_programmes
            if p.region_code == region
        ]
    regions = sorted(
        {index.region_names.get(p.region_code, p.region_code) for p in open_programmes}
    )
    if not regions:
        return []
    return [_("Subventionnée en %(regions)s", regions=", ".join(regions))]


def key_features(entry: CatalogueEntry, index: CatalogueIndex, count: int = 3) -> list[str]:
    chosen: list[str] = []
    candidates = [index.attributes_by_key[k] for k in KEY_FEATURES if k in index.attributes_by_key]
    candidates += [a for a in index.attributes if a.type == "boolean" and a.key not in KEY_FEATURES]
    for attribute in candidates:
        if entry.features.get(attribute.key) is True:
            chosen.append(text(attribute.label))
            if len(chosen) == count:
                break
    return chosen


def offer_card(
    entry: CatalogueEntry,
    index: CatalogueIndex,
    *,
    region: str | None = None,
    department: str | None = None,
    today: dt.date | None = None,
) -> OfferCard:
    types = index.attributes_by_key.get("mailbox_types")
    notes = []
    if entry.price_cents == 0 and entry.setup_fee_cents:
        notes.append(
            _(
                "Frais de mise en service : %(price)s HT",
                price=money(entry.setup_fee_cents, entry.currency),
            )
        )
    elif entry.setup_fee_cents:
        notes.append(
            _(
                "+ %(price)s HT de mise en service",
                price=money(entry.setup_fee_cents, entry.currency),
            )
        )
    if entry.commitment_months:
        notes.append(
            ngettext(
                "Engagement de %(num)d mois", "Engagement de %(num)d mois", entry.commitment_months
            )
        )
    place = {"departement": department} if department else ({"region": region} if region else {})
    return OfferCard(
        slug=entry.slug,
        name=entry.name,
        url=url_for("catalogue.offer", slug=entry.slug, **place),
        operator_name=entry.operator.name,
        operator_kind=text(OPERATOR_KIND_LABELS.get(entry.operator.kind, entry.operator.kind)),
        demo=entry.demo or entry.operator.demo,
        summary=localised(entry.summary),
        mailbox_types=[
            (code, text(types.option_label(code)) if types else code)
            for code in entry.mailbox_types
        ],
        audience=audience_lines(entry, index),
        coverage=coverage_text(entry, index),
        price=_card_price(entry),
        price_note=" · ".join(notes) or None,
        subsidies=card_subsidies(entry, index, region, today or dt.date.today()),
        key_features=key_features(entry, index),
    )


def _card_price(entry: CatalogueEntry) -> str:
    if entry.is_free:
        return _("Gratuit")
    if entry.price_cents == 0:
        return _("Sans abonnement")
    return price_text(entry)


# --- the catalogue page -----------------------------------------------------------------------


@dataclass
class FormChoice:
    value: str
    label: str
    count: int
    selected: bool
    group: str | None = None


@dataclass
class FormFilter:
    param: str
    kind: str
    label: str
    hint: str | None
    any_label: str | None
    choices: list[FormChoice]
    folded: list[FormChoice] = field(default_factory=list)  # ALL_OF choices after the primary
    typed: str = ""
    error: str | None = None


@dataclass
class Fieldset:
    key: str
    legend: str
    filters: list[FormFilter]


@dataclass
class ActiveFilter:
    label: str
    remove_url: str
    results_without: int | None = None  # for the empty state: what removing it would give


def filter_form(index: CatalogueIndex, result: SearchResult) -> list[Fieldset]:
    state = result.state
    errors = {i.param: i for i in state.ignored if i.reason == "not_a_number"}
    fieldsets: dict[str, Fieldset] = {}
    for spec in CATALOGUE_FILTERS:
        choices = [
            FormChoice(
                value=choice.value,
                label=text(choice.label),
                count=result.facets.get(spec.param, {}).get(choice.value, 0),
                selected=choice.value in state.selected(spec.param),
                group=text(choice.group) if choice.group is not None else None,
            )
            for choice in index.choices.get(spec.param, ())
        ]
        if spec.kind is not Kind.MAX_PRICE and not choices:
            continue  # the data offers nothing to choose (an attribute was removed)
        folded: list[FormChoice] = []
        if spec.primary:
            folded = [c for c in choices if c.value not in spec.primary]
            choices = [c for c in choices if c.value in spec.primary]
            choices.sort(key=lambda c: spec.primary.index(c.value))
        error = None
        if spec.param in errors:
            error = _(
                "« %(value)s » n’est pas un prix : écrivez un nombre d’euros, par exemple 5 ou 4,50.",
                value=errors[spec.param].value,
            )
        form_filter = FormFilter(
            param=spec.param,
            kind=spec.kind.value,
            label=filter_label(spec, index),
            hint=text(spec.hint) if spec.hint else None,
            any_label=text(spec.any_label) if spec.any_label else None,
            choices=choices,
            folded=folded,
            typed=state.typed.get(spec.param, ""),
            error=error,
        )
        fieldsets.setdefault(
            spec.fieldset, Fieldset(spec.fieldset, text(FIELDSETS[spec.fieldset]), [])
        ).filters.append(form_filter)
    return [fieldsets[key] for key in FIELDSETS if key in fieldsets]


def active_filters(
    index: CatalogueIndex, result: SearchResult, url_for_query
) -> list[ActiveFilter]:
    state = result.state
    active: list[ActiveFilter] = []
    for spec in CATALOGUE_FILTERS:
        label = filter_label(spec, index)
        if spec.kind is Kind.MAX_PRICE:
            if state.max_price_cents is not None:
                active.append(
                    ActiveFilter(
                        _(
                            "%(filter)s : %(value)s",
                            filter=label,
                            value=money(state.max_price_cents),
                        ),
                        url_for_query(state.query(drop=[(spec.param, None)])),
                        result.without.get(spec.param),
                    )
                )
            continue
        for value in state.selected(spec.param):
            removal = state.query(drop=[(spec.param, value)])
            only_value = len(state.selected(spec.param)) == 1
            active.append(
                ActiveFilter(
                    _(
                        "%(filter)s : %(value)s",
                        filter=label,
                        value=choice_label(index, spec.param, value),
                    )
                    if spec.kind is not Kind.FLAG
                    else label,
                    url_for_query(removal),
                    result.without.get(spec.param) if only_value else None,
                )
            )
    return active


def ignored_messages(index: CatalogueIndex, state: FilterState) -> list[str]:
    names = {spec.param: filter_label(spec, index) for spec in CATALOGUE_FILTERS}
    names.update({"tri": _("Trier par"), "page": _("Page")})
    return [
        _ignored_message(item.reason, item.value, names.get(item.param, item.param))
        for item in state.ignored
    ]


def _ignored_message(reason: str, value: str, filter_name: str) -> str:
    template = IGNORED_REASONS.get(reason, IGNORED_REASONS["unknown_value"])
    return template % {"value": value, "filter": filter_name}


def sort_choices(state: FilterState) -> list[tuple[str, str, bool]]:
    return [(key, text(label), key == state.sort) for key, label in SORTS.items()]


def subscription_url(slug: str) -> str | None:
    """Where "Souscrire" leads, once the subscription flow is installed."""
    if "subscriptions.start" in current_app.view_functions:
        return url_for("subscriptions.start", slug=slug)
    return None


# --- the grid: offer page and comparison --------------------------------------------------------


@dataclass
class GridRow:
    key: str
    label: str
    help: str
    cells: list[Cell]
    differs: bool


@dataclass
class GridGroup:
    key: str
    label: str
    rows: list[GridRow]

    @property
    def differences(self) -> int:
        return sum(1 for row in self.rows if row.differs)


def grid(entries: list[CatalogueEntry], index: CatalogueIndex) -> list[GridGroup]:
    """Every ComparisonAttribute as a row, by group, with one cell per offer."""
    groups = []
    for group, attributes in index.grid():
        rows = []
        for attribute in attributes:
            cells = [attribute_cell(attribute, entry) for entry in entries]
            rows.append(
                GridRow(
                    key=attribute.key,
                    label=text(attribute.label),
                    help=text(attribute.help),
                    cells=cells,
                    differs=len({cell.text for cell in cells}) > 1,
                )
            )
        groups.append(GridGroup(group, text(GROUP_LABELS.get(group, group)), rows))
    return groups


def including_vat(cents: int, vat_rate_bp: int) -> int:
    return cents + (cents * vat_rate_bp + 5000) // 10000


def price_breakdown(entry: CatalogueEntry) -> list[tuple[str, str]]:
    """Label/value lines: price excluding and including VAT, setup fee, commitment."""
    per = _("par mois") if entry.billing_period != BillingPeriod.YEAR else _("par an")
    lines = [
        (
            _("Prix par boîte, hors taxes (HT)"),
            _("Gratuit")
            if entry.price_cents == 0
            else f"{money(entry.price_cents, entry.currency)} {per}",
        ),
    ]
    if entry.price_cents:
        lines.append((_("TVA"), format_percent_bp(entry.vat_rate_bp, current_language())))
        lines.append(
            (
                _("Prix par boîte, toutes taxes comprises (TTC)"),
                f"{money(including_vat(entry.price_cents, entry.vat_rate_bp), entry.currency)} {per}",
            )
        )
        if entry.billing_period == BillingPeriod.YEAR:
            lines.append(
                (
                    _("Soit, ramené au mois (HT)"),
                    f"{money(entry.monthly_price_cents, entry.currency)} {_('par mois')}",
                )
            )
    if entry.setup_fee_cents:
        setup = _(
            "%(ht)s HT, soit %(ttc)s TTC, une seule fois",
            ht=money(entry.setup_fee_cents, entry.currency),
            ttc=money(including_vat(entry.setup_fee_cents, entry.vat_rate_bp), entry.currency),
        )
    else:
        setup = _("Aucun")
    lines.append((_("Frais de mise en service"), setup))
    lines.append(
        (
            _("Durée d’engagement"),
            _("Sans engagement, résiliable à tout moment")
            if entry.commitment_months == 0
            else ngettext("%(num)d mois", "%(num)d mois", entry.commitment_months),
        )
    )
    return lines


@dataclass
class SubsidyView:
    name: str
    rule: str
    price_after: str
    details: list[str]
    usable: bool  # False: not started, or quota reached


def subsidies_in_region(
    entry: CatalogueEntry, index: CatalogueIndex, region: str | None, today: dt.date | None = None
) -> list[SubsidyView]:
    today = today or dt.date.today()
    views = []
    for programme in entry.programmes_in(region):
        if programme.ends_on is not None and programme.ends_on < today:
            continue
        details = []
        if programme.duration_months:
            details.append(
                ngettext(
                    "Pendant %(num)d mois à partir de l’ouverture de la boîte.",
                    "Pendant %(num)d mois à partir de l’ouverture de la boîte.",
                    programme.duration_months,
                )
            )
        structures = index.attributes_by_key.get("structure_types")
        if programme.structure_types and structures:
            details.append(
                _(
                    "Réservé à : %(names)s.",
                    names=", ".join(
                        text(structures.option_label(c)) for c in programme.structure_types
                    ),
                )
            )
        professions = index.attributes_by_key.get("professions")
        if programme.professions and professions:
            details.append(
                _(
                    "Professions concernées : %(names)s.",
                    names=", ".join(
                        text(professions.option_label(c)) for c in programme.professions
                    ),
                )
            )
        if programme.departments:
            details.append(
                _(
                    "Départements concernés : %(codes)s.",
                    codes=", ".join(
                        f"{d.name} ({d.code})" if (d := index.department_by_code.get(c)) else c
                        for c in programme.departments
                    ),
                )
            )
        if programme.needs_approval:
            details.append(_("La région valide chaque demande avant l’ouverture de la boîte."))
        if programme.starts_on and programme.starts_on > today:
            details.append(_("Ouvert à partir du %(date)s.", date=_date(programme.starts_on)))
        if programme.ends_on:
            details.append(_("Jusqu’au %(date)s.", date=_date(programme.ends_on)))
        if programme.quota_exhausted:
            details.append(_("Toutes les boîtes prévues par ce programme sont déjà attribuées."))
        after = subsidised_monthly_cents(programme, entry)
        views.append(
            SubsidyView(
                name=localised(programme.name),
                rule=subsidy_rule_text(programme, entry),
                price_after=_("Gratuit")
                if after == 0
                else _("%(price)s HT par mois", price=money(after, entry.currency)),
                details=details,
                usable=programme.has_started_on(today) and not programme.quota_exhausted,
            )
        )
    return views


def _date(day: dt.date) -> str:
    from flask_babel import format_date

    return format_date(day, "long")


def eligibility_lines(entry: CatalogueEntry, index: CatalogueIndex) -> list[str]:
    """Who may subscribe, in plain words built from the offer's audience fields."""
    types = index.attributes_by_key.get("mailbox_types")
    lines = [
        _(
            "Boîtes proposées : %(types)s.",
            types=", ".join(
                text(types.option_label(t)) if types else t for t in entry.mailbox_types
            ),
        )
    ]
    lines += [f"{line}." for line in audience_lines(entry, index)]
    lines.append(_("Territoire : %(where)s.", where=coverage_text(entry, index, only=False)))
    if entry.max_per_professional:
        lines.append(
            ngettext(
                "Au plus %(num)d boîte personnelle par professionnel.",
                "Au plus %(num)d boîtes personnelles par professionnel.",
                entry.max_per_professional,
            )
        )
    return lines


def operator_facts(entry: CatalogueEntry) -> list[tuple[str, str]]:
    operator = entry.operator
    return [
        (_("Opérateur"), operator.name),
        (_("Type d’opérateur"), text(OPERATOR_KIND_LABELS.get(operator.kind, operator.kind))),
        (
            _("Contrat d’opérateur MSSanté signé avec l’ANS"),
            _("Oui") if operator.ans_contract else _("Non"),
        ),
        (
            _("Hébergement certifié pour les données de santé (HDS)"),
            _("Oui") if operator.hds_certified else _("Non"),
        ),
        (
            _("Horaires de l’assistance"),
            localised(operator.support_hours) if operator.support_hours else _("Non renseigné"),
        ),
    ]


def safe_website(url: str | None) -> str | None:
    """Only web addresses become links (never javascript: or data:)."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None
