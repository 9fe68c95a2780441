"""The catalogue's filters, declared as data, and the search that applies them.

:data:`CATALOGUE_FILTERS` is the manifest: one entry per query parameter of ``/offres`` (and of
``/api/v1/offers``), saying how it is shown, which choices it offers and which offers each
choice keeps. Labels and choices come from the ``ComparisonAttribute`` rows whenever the filter
is about an attribute, so the grid and the filters never disagree; feature checkboxes are every
filterable boolean attribute of the data, so one added by an operator becomes a filter too.

Each choice's offers are computed once per index (:func:`fill_masks`); a search is then a few
bit operations (:func:`search`), including the facet count next to every choice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from portal.catalogue.index import CatalogueEntry, CatalogueIndex
from portal.catalogue.models import MailboxType, OperatorKind

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_VALUE_LENGTH = 60  # longer values are cut in messages; no valid value is that long


class Kind(StrEnum):
    SELECT = "select"  # one value among the choices
    ANY_OF = "any_of"  # checkboxes; an offer is kept if it matches one ticked value
    ALL_OF = "all_of"  # checkboxes; an offer is kept if it matches every ticked value
    FLAG = "flag"  # one checkbox
    MAX_PRICE = "max_price"  # a number of euros, upper bound of the monthly price


@dataclass(frozen=True)
class Choice:
    value: str
    label: Any  # {"fr", "en"} from the data, or a lazy string
    group: Any = None  # optgroup label (departments under their region)


@dataclass(frozen=True)
class CatalogueFilter:
    param: str
    kind: Kind
    fieldset: str  # which part of the form it sits in (see FIELDSETS)
    label: Any = None  # None: the attribute's label from the data
    attribute: str | None = None  # the ComparisonAttribute it is about
    choices: Callable[[CatalogueIndex], list[Choice]] = lambda index: []
    keeps: Callable[[CatalogueIndex, CatalogueEntry, str], bool] = lambda index, entry, v: True
    any_label: Any = None  # SELECT: the "no preference" option
    hint: Any = None
    primary: tuple[str, ...] = ()  # ALL_OF: choices shown first; the others are folded


# --- choices -------------------------------------------------------------------------------


def _attribute_options(key: str) -> Callable[[CatalogueIndex], list[Choice]]:
    def choices(index: CatalogueIndex) -> list[Choice]:
        attribute = index.attributes_by_key.get(key)
        if attribute is None:
            return []
        return [Choice(value, label) for value, label in attribute.options]

    return choices


def _regions(index: CatalogueIndex) -> list[Choice]:
    return [Choice(code, name) for code, name in index.regions]


def _departments(index: CatalogueIndex) -> list[Choice]:
    by_region = {code: [] for code, _ in index.regions}
    for department in index.departments:
        by_region.setdefault(department.region_code, []).append(department)
    return [
        Choice(d.code, f"{d.code} — {d.name}", group=index.region_names.get(region, region))
        for region, departments in by_region.items()
        for d in departments
    ]


OPERATOR_KIND_LABELS = {
    OperatorKind.NATIONAL: _l("Opérateur national"),
    OperatorKind.REGIONAL: _l("Opérateur régional"),
    OperatorKind.COMMERCIAL: _l("Opérateur commercial"),
    OperatorKind.ESTABLISHMENT: _l("Établissement de santé opérateur"),
}


def _operator_kinds(index: CatalogueIndex) -> list[Choice]:
    return [Choice(kind.value, label) for kind, label in OPERATOR_KIND_LABELS.items()]


def _boolean_features(index: CatalogueIndex) -> list[Choice]:
    return [
        Choice(a.key, a.label)
        for a in index.attributes
        if a.filterable and a.type == "boolean" and a.source == "features"
    ]


def _distinct_list_values(key: str) -> Callable[[CatalogueIndex], list[Choice]]:
    def choices(index: CatalogueIndex) -> list[Choice]:
        values = {
            str(value)
            for entry in index.entries
            if isinstance(entry.features.get(key), list)
            for value in entry.features[key]
        }
        return [Choice(value, value) for value in sorted(values, key=str.casefold)]

    return choices


def _at_least_choices(key: str) -> Callable[[CatalogueIndex], list[Choice]]:
    def choices(index: CatalogueIndex) -> list[Choice]:
        attribute = index.attributes_by_key.get(key)
        unit = attribute.unit if attribute else ""
        values = sorted(
            {
                entry.features[key]
                for entry in index.entries
                if isinstance(entry.features.get(key), int)
                and not isinstance(entry.features.get(key), bool)
            }
        )
        return [
            Choice(str(value), _l("%(value)s %(unit)s ou plus", value=value, unit=unit))
            for value in values
        ]

    return choices


def _deletion_choices(index: CatalogueIndex) -> list[Choice]:
    attribute = index.attributes_by_key.get("retention_days")
    if attribute is None:
        return []
    return [
        Choice("aucune", attribute.null_means or _l("Pas de suppression automatique")),
        Choice("automatique", _l("Suppression automatique après un délai")),
    ]


# --- what each choice keeps ------------------------------------------------------------------


def _keeps_profession(index: CatalogueIndex, entry: CatalogueEntry, code: str) -> bool:
    # A profession is served by an offer of personal mailboxes open to it (empty = any).
    personal = MailboxType.PER in entry.mailbox_types or MailboxType.CAB in entry.mailbox_types
    return personal and (not entry.professions or code in entry.professions)


def _keeps_structure(index: CatalogueIndex, entry: CatalogueEntry, kind: str) -> bool:
    # A structure needs organisational or application mailboxes meant for its type (empty = any).
    shared = MailboxType.ORG in entry.mailbox_types or MailboxType.APP in entry.mailbox_types
    return shared and (not entry.structure_types or kind in entry.structure_types)


def _keeps_at_least(key: str) -> Callable[[CatalogueIndex, CatalogueEntry, str], bool]:
    def keeps(index: CatalogueIndex, entry: CatalogueEntry, value: str) -> bool:
        actual = entry.features.get(key)
        return isinstance(actual, int) and not isinstance(actual, bool) and actual >= int(value)

    return keeps


def _keeps_deletion(index: CatalogueIndex, entry: CatalogueEntry, value: str) -> bool:
    # An explicit null means "no automatic deletion"; an absent key means "not stated".
    if "retention_days" not in entry.features:
        return False
    days = entry.features["retention_days"]
    return days is None if value == "aucune" else isinstance(days, int)


FIELDSETS = {
    "who": _l("Pour qui ?"),
    "where": _l("Où exercez-vous ?"),
    "price": _l("Prix"),
    "features": _l("Fonctionnalités"),
    "operator": _l("Opérateur"),
}

CATALOGUE_FILTERS: tuple[CatalogueFilter, ...] = (
    CatalogueFilter(
        "region",
        Kind.SELECT,
        "where",
        label=_l("Région"),
        choices=_regions,
        keeps=lambda index, entry, code: index.covers_region(entry, code),
        any_label=_l("Toutes les régions"),
    ),
    CatalogueFilter(
        "departement",
        Kind.SELECT,
        "where",
        label=_l("Département"),
        choices=_departments,
        keeps=lambda index, entry, code: index.covers_department(entry, code),
        any_label=_l("Tous les départements"),
    ),
    CatalogueFilter(
        "profession",
        Kind.SELECT,
        "who",
        label=_l("Vous êtes (boîte personnelle)"),
        attribute="professions",
        choices=_attribute_options("professions"),
        keeps=_keeps_profession,
        any_label=_l("Toutes les professions"),
    ),
    CatalogueFilter(
        "structure",
        Kind.SELECT,
        "who",
        label=_l("Votre structure (boîte organisationnelle ou applicative)"),
        attribute="structure_types",
        choices=_attribute_options("structure_types"),
        keeps=_keeps_structure,
        any_label=_l("Tous les types de structure"),
    ),
    CatalogueFilter(
        "type",
        Kind.ANY_OF,
        "who",
        attribute="mailbox_types",
        choices=_attribute_options("mailbox_types"),
        keeps=lambda index, entry, value: value in entry.mailbox_types,
    ),
    CatalogueFilter(
        "gratuit",
        Kind.FLAG,
        "price",
        label=_l("Gratuit uniquement (sans abonnement ni frais de mise en service)"),
        choices=lambda index: [Choice("1", _l("Gratuit uniquement"))],
        keeps=lambda index, entry, value: entry.is_free,
    ),
    CatalogueFilter(
        "prix_max",
        Kind.MAX_PRICE,
        "price",
        label=_l("Prix mensuel maximum par boîte (€ HT)"),
        hint=_l("Un nombre, par exemple 5 ou 4,50"),
    ),
    CatalogueFilter(
        "fonction",
        Kind.ALL_OF,
        "features",
        label=_l("L’offre doit proposer"),
        choices=_boolean_features,
        keeps=lambda index, entry, key: entry.features.get(key) is True,
        primary=(
            "mobile_app",
            "webmail_responsive",
            "imap_smtp",
            "psc_login",
            "delegation",
            "lps_access",
        ),
    ),
    CatalogueFilter(
        "logiciel",
        Kind.SELECT,
        "features",
        attribute="lps_integrations",
        choices=_distinct_list_values("lps_integrations"),
        keeps=lambda index, entry, name: name in (entry.features.get("lps_integrations") or ()),
        any_label=_l("Peu importe"),
    ),
    CatalogueFilter(
        "pj_min",
        Kind.SELECT,
        "features",
        attribute="attachment_max_mb",
        choices=_at_least_choices("attachment_max_mb"),
        keeps=_keeps_at_least("attachment_max_mb"),
        any_label=_l("Peu importe"),
    ),
    CatalogueFilter(
        "suppression",
        Kind.SELECT,
        "features",
        attribute="retention_days",
        choices=_deletion_choices,
        keeps=_keeps_deletion,
        any_label=_l("Peu importe"),
    ),
    CatalogueFilter(
        "operateur",
        Kind.ANY_OF,
        "operator",
        label=_l("Type d’opérateur"),
        choices=_operator_kinds,
        keeps=lambda index, entry, kind: entry.operator.kind == kind,
    ),
)
FILTERS_BY_PARAM = {f.param: f for f in CATALOGUE_FILTERS}

SORTS = {
    "pertinence": _l("Pertinence"),
    "prix": _l("Prix croissant"),
    "nom": _l("Nom (A à Z)"),
}
DEFAULT_SORT = "pertinence"


def fill_masks(index: CatalogueIndex) -> None:
    """Compute every filter choice and the offers it keeps (once per index)."""
    for spec in CATALOGUE_FILTERS:
        if spec.kind is Kind.MAX_PRICE:
            continue
        choices = spec.choices(index)
        index.choices[spec.param] = choices
        index.masks[spec.param] = {
            choice.value: index.mask_where(
                lambda entry, value=choice.value, spec=spec: spec.keeps(index, entry, value)
            )
            for choice in choices
        }


# --- reading the query -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ignored:
    """A parameter value the search could not use; ``reason`` is a code the page explains."""

    param: str
    value: str
    reason: str  # unknown_value | not_a_number | duplicate | one_value_only | outside_region


@dataclass
class FilterState:
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)  # text inputs, re-displayed as typed
    ignored: list[Ignored] = field(default_factory=list)
    sort: str = DEFAULT_SORT
    page: int = 1
    max_price_cents: int | None = None

    def selected(self, param: str) -> tuple[str, ...]:
        return self.values.get(param, ())

    def first(self, param: str) -> str | None:
        values = self.values.get(param)
        return values[0] if values else None

    @property
    def region_code(self) -> str | None:
        """The region the visitor chose, directly or through a department."""
        return self._region

    _region: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.values) or self.max_price_cents is not None

    def query(self, *, drop: Iterable[tuple[str, str | None]] = (), **changes: Any) -> list:
        """Query parameters of this state, less ``drop`` (param, value or None for all)."""
        dropped = list(drop)
        pairs: list[tuple[str, str]] = []
        for spec in CATALOGUE_FILTERS:
            if (spec.param, None) in dropped:
                continue
            if spec.kind is Kind.MAX_PRICE:
                if spec.param in self.typed and self.max_price_cents is not None:
                    pairs.append((spec.param, self.typed[spec.param]))
                continue
            pairs.extend(
                (spec.param, value)
                for value in self.selected(spec.param)
                if (spec.param, value) not in dropped
            )
        sort = changes.get("tri", self.sort)
        if sort != DEFAULT_SORT:
            pairs.append(("tri", sort))
        page = changes.get("page", 1)
        if page and page != 1:
            pairs.append(("page", str(page)))
        return pairs


def shorten(value: str) -> str:
    return value if len(value) <= MAX_VALUE_LENGTH else value[: MAX_VALUE_LENGTH - 1] + "…"


_EUROS = re.compile(r"^\s*(\d{1,6})(?:[.,](\d{1,2}))?\s*(?:€)?\s*$")


def parse_euros(text: str) -> int | None:
    """``"4,50"`` → 450 cents; None when it is not an amount of euros."""
    match = _EUROS.match(text)
    if not match:
        return None
    try:
        amount = Decimal(f"{match.group(1)}.{match.group(2) or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        return None
    return int(amount * 100)


def parse_filters(args: MultiDict, index: CatalogueIndex) -> FilterState:
    """Read the catalogue's query parameters; values it cannot use are listed, never fatal."""
    state = FilterState()
    for spec in CATALOGUE_FILTERS:
        raw = [value.strip() for value in args.getlist(spec.param)]
        raw = [value for value in raw if value]
        if not raw:
            continue
        if spec.kind is Kind.MAX_PRICE:
            state.typed[spec.param] = raw[0][:MAX_VALUE_LENGTH]
            cents = parse_euros(raw[0])
            if cents is None:
                state.ignored.append(Ignored(spec.param, shorten(raw[0]), "not_a_number"))
            else:
                state.max_price_cents = cents
            continue
        known = index.masks.get(spec.param, {})
        accepted: list[str] = []
        for value in raw:
            if value not in known:
                state.ignored.append(Ignored(spec.param, shorten(value), "unknown_value"))
            elif value in accepted:
                state.ignored.append(Ignored(spec.param, shorten(value), "duplicate"))
            elif accepted and spec.kind in (Kind.SELECT, Kind.FLAG):
                state.ignored.append(Ignored(spec.param, shorten(value), "one_value_only"))
            else:
                accepted.append(value)
        if accepted:
            state.values[spec.param] = tuple(accepted)

    department = state.first("departement")
    region = state.first("region")
    if department:
        department_region = index.region_of(department)
        if region and region != department_region:
            # The department says more than the region; keep the one that is consistent.
            state.ignored.append(Ignored("region", region, "outside_region"))
            del state.values["region"]
        state._region = department_region
    else:
        state._region = region

    sort = args.get("tri", DEFAULT_SORT)
    if sort in SORTS:
        state.sort = sort
    else:
        state.ignored.append(Ignored("tri", shorten(sort), "unknown_value"))
    page = args.get("page", "1").strip()
    if page.isdigit() and 0 < int(page) < 100_000:
        state.page = int(page)
    else:
        state.ignored.append(Ignored("page", shorten(page), "not_a_number"))
    return state


# --- searching -------------------------------------------------------------------------------


@dataclass
class SearchResult:
    state: FilterState
    total: int
    page: int
    pages: int
    per_page: int
    entries: list[CatalogueEntry]  # this page's offers, in order
    all_entries: list[CatalogueEntry]  # every matching offer, in order (CSV, API)
    facets: dict[str, dict[str, int]]  # param -> choice -> offers if chosen
    without: dict[str, int]  # param -> offers if that filter were removed
    page_clamped: bool = False


def _filter_mask(index: CatalogueIndex, state: FilterState, spec: CatalogueFilter) -> int | None:
    """The offers one filter keeps, or None when it is not in use."""
    if spec.kind is Kind.MAX_PRICE:
        if state.max_price_cents is None:
            return None
        return index.monthly_price_at_most(state.max_price_cents)
    selected = state.selected(spec.param)
    if not selected:
        return None
    masks = index.masks[spec.param]
    if spec.kind is Kind.ANY_OF:
        combined = 0
        for value in selected:
            combined |= masks[value]
        return combined
    combined = index.all_mask
    for value in selected:
        combined &= masks[value]
    return combined


def search(
    index: CatalogueIndex,
    state: FilterState,
    *,
    per_page: int = PER_PAGE,
    today: dt.date | None = None,
) -> SearchResult:
    """Apply the filters, count every facet, sort and cut the page."""
    used = {
        spec.param: mask
        for spec in CATALOGUE_FILTERS
        if (mask := _filter_mask(index, state, spec)) is not None
    }
    total_mask = index.all_mask
    for mask in used.values():
        total_mask &= mask

    others: dict[str, int] = {}
    for spec in CATALOGUE_FILTERS:
        base = index.all_mask
        for param, mask in used.items():
            if param != spec.param:
                base &= mask
        others[spec.param] = base

    facets: dict[str, dict[str, int]] = {}
    for spec in CATALOGUE_FILTERS:
        if spec.kind is Kind.MAX_PRICE:
            continue
        # Ticking one more feature narrows what is already shown; any other choice replaces
        # (or, for ANY_OF, widens) this filter's own selection.
        base = total_mask if spec.kind is Kind.ALL_OF else others[spec.param]
        facets[spec.param] = {
            value: (base & mask).bit_count() for value, mask in index.masks[spec.param].items()
        }

    matching = index.entries_in(total_mask)
    matching.sort(key=_sort_key(index, state, today or dt.date.today()))
    total = len(matching)
    pages = max(1, -(-total // per_page))
    page = min(state.page, pages)
    start = (page - 1) * per_page
    return SearchResult(
        state=state,
        total=total,
        page=page,
        pages=pages,
        per_page=per_page,
        entries=matching[start : start + per_page],
        all_entries=matching,
        facets=facets,
        without={param: others[param].bit_count() for param in used},
        page_clamped=page != state.page,
    )


def _sort_key(index: CatalogueIndex, state: FilterState, today: dt.date):
    if state.sort == "prix":
        return lambda e: (e.monthly_price_cents, e.setup_fee_cents, e.sort_name)
    if state.sort == "nom":
        return lambda e: e.sort_name
    region = state.region_code
    department = state.first("departement")

    def relevance(entry: CatalogueEntry) -> tuple:
        # In a chosen place: offers subsidised there first, then offers made for that place,
        # then national ones. Everywhere: free before paying, cheaper first, then by name.
        if region:
            subsidised = any(p.is_open_on(today) for p in entry.programmes_in(region))
            if department and department in entry.coverage_departments:
                local = 0
            elif entry.coverage_national:
                local = 2
            else:
                local = 1
            place = (0 if subsidised else 1, local)
        else:
            place = (0 if entry.coverage_national else 1,)
        return (*place, 0 if entry.is_free else 1, entry.monthly_price_cents, entry.sort_name)

    return relevance
