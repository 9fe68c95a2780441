"""The published catalogue held in memory, built once per process and rebuilt when it changes.

Every catalogue page reads the same few hundred offers, their operator, their current terms and
the regional programmes that subsidise them. Reading and reshaping them on every request would
cost far more than the page itself, so each process keeps an immutable :class:`CatalogueIndex`
and asks the database, with one cheap aggregate query at most once a second, whether the
catalogue moved (:func:`catalogue_version`). The database stays the source of truth: any
process sees a change within that second. Edits that leave no trace in that query (an operator
renamed in place, a grid label reworded) show after at most :data:`MAX_AGE_SECONDS`.

Pages rendered from an index are kept with it (:class:`FragmentCache`), so a popular query is
rendered once per process and catalogue version.

The index also precomputes, for every filter choice of the catalogue, the set of offers it
keeps as a bit mask (bit ``n`` = ``entries[n]``), so filtering and facet counts are a handful
of integer operations whatever the number of offers.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import func
from sqlmodel import Session, select

from portal.catalogue.models import (
    ComparisonAttribute,
    Department,
    Offer,
    OfferRevision,
    OfferStatus,
    Operator,
    Region,
)
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.quotes import monthly_price_cents

MAX_AGE_SECONDS = 60.0
FRAGMENTS_PER_PROCESS = 128  # rendered page bodies kept per index (about 10 MB at most)
GROUP_ORDER = ("price", "audience", "access", "integration", "limits", "support", "compliance")


@dataclass(frozen=True)
class AttributeInfo:
    """One row of the comparison grid (a detached copy of a ComparisonAttribute)."""

    key: str
    group: str
    position: int
    type: str
    source: str
    unit: str | None
    path: str | None
    label: dict[str, str]
    help: dict[str, str]
    options: tuple[tuple[str, dict[str, str]], ...]
    null_means: dict[str, str]
    localized: bool
    filterable: bool

    def option_label(self, value: Any) -> dict[str, str] | str:
        for option_value, label in self.options:
            if option_value == str(value):
                return label
        return str(value)


@dataclass(frozen=True)
class OperatorInfo:
    id: int
    slug: str
    name: str
    kind: str
    demo: bool
    ans_contract: bool
    hds_certified: bool
    website: str | None
    support_hours: dict[str, str]
    description: dict[str, str]


@dataclass(frozen=True)
class ProgrammeInfo:
    """A regional subsidy programme attached to an offer."""

    id: int
    slug: str
    region_code: str
    name: dict[str, str]
    rule: str
    value: int | None
    duration_months: int | None
    structure_types: tuple[str, ...]
    professions: tuple[str, ...]
    departments: tuple[str, ...]
    quota_mailboxes: int | None
    quota_used: int
    needs_approval: bool
    starts_on: dt.date | None
    ends_on: dt.date | None

    def is_open_on(self, day: dt.date) -> bool:
        return (self.ends_on is None or day <= self.ends_on) and not self.quota_exhausted

    def has_started_on(self, day: dt.date) -> bool:
        return self.starts_on is None or self.starts_on <= day

    @property
    def quota_exhausted(self) -> bool:
        return self.quota_mailboxes is not None and self.quota_used >= self.quota_mailboxes


@dataclass(frozen=True)
class CatalogueEntry:
    """A published offer with its current terms, operator and programmes."""

    bit: int
    id: int
    slug: str
    name: str
    sort_name: str
    demo: bool
    mailbox_types: tuple[str, ...]
    professions: tuple[str, ...]
    structure_types: tuple[str, ...]
    coverage_national: bool
    coverage_regions: tuple[str, ...]
    coverage_departments: tuple[str, ...]
    max_per_professional: int | None
    publisher_region_code: str | None
    operator: OperatorInfo
    revision_id: int
    revision_number: int
    price_cents: int
    currency: str
    billing_period: str
    setup_fee_cents: int
    commitment_months: int
    vat_rate_bp: int
    features: dict[str, Any]
    summary: dict[str, str]
    description: dict[str, str]
    eligibility: dict[str, str]
    programmes: tuple[ProgrammeInfo, ...]

    @property
    def monthly_price_cents(self) -> int:
        """The price per mailbox brought to a month, so yearly and monthly offers compare."""
        return monthly_price_cents(self.price_cents, self.billing_period)

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0 and self.setup_fee_cents == 0

    def programmes_in(self, region_code: str | None) -> tuple[ProgrammeInfo, ...]:
        if not region_code:
            return ()
        return tuple(p for p in self.programmes if p.region_code == region_code)


@dataclass(frozen=True)
class DepartmentInfo:
    code: str
    name: str
    region_code: str


class FragmentCache:
    """Rendered HTML kept with the index it was rendered from, least recently used out first.

    It lives on the index, so a new catalogue version starts with an empty cache."""

    def __init__(self, size: int = FRAGMENTS_PER_PROCESS) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
                return html
        html = render()
        with self._lock:
            self._items[key] = html
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return html

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class CatalogueIndex:
    """Immutable once built; shared by every request of the process."""

    version: tuple
    entries: tuple[CatalogueEntry, ...]
    attributes: tuple[AttributeInfo, ...]
    regions: tuple[tuple[str, str], ...]
    departments: tuple[DepartmentInfo, ...]
    built_at: float = field(default_factory=time.monotonic)
    by_slug: dict[str, CatalogueEntry] = field(init=False)
    attributes_by_key: dict[str, AttributeInfo] = field(init=False)
    region_names: dict[str, str] = field(init=False)
    department_by_code: dict[str, DepartmentInfo] = field(init=False)
    all_mask: int = field(init=False)
    # filter parameter -> choice value -> offers kept (bit mask); filled by the filter manifest.
    masks: dict[str, dict[str, int]] = field(init=False, default_factory=dict)
    # filter parameter -> the choices offered in the form, in display order.
    choices: dict[str, list[Any]] = field(init=False, default_factory=dict)
    fragments: FragmentCache = field(init=False, default_factory=FragmentCache)
    _price_sorted: list[int] = field(init=False)
    _price_prefix_masks: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.by_slug = {entry.slug: entry for entry in self.entries}
        self.attributes_by_key = {attribute.key: attribute for attribute in self.attributes}
        self.region_names = dict(self.regions)
        self.department_by_code = {d.code: d for d in self.departments}
        self.all_mask = (1 << len(self.entries)) - 1
        by_price = sorted(self.entries, key=lambda e: e.monthly_price_cents)
        self._price_sorted = [entry.monthly_price_cents for entry in by_price]
        prefix, masks = 0, [0]
        for entry in by_price:
            prefix |= 1 << entry.bit
            masks.append(prefix)
        self._price_prefix_masks = masks

    def mask_where(self, predicate: Callable[[CatalogueEntry], bool]) -> int:
        mask = 0
        for entry in self.entries:
            if predicate(entry):
                mask |= 1 << entry.bit
        return mask

    def monthly_price_at_most(self, cents: int) -> int:
        return self._price_prefix_masks[bisect.bisect_right(self._price_sorted, cents)]

    def entries_in(self, mask: int) -> list[CatalogueEntry]:
        entries, bit = [], 0
        while mask:
            if mask & 1:
                entries.append(self.entries[bit])
            mask >>= 1
            bit += 1
        return entries

    def region_of(self, department_code: str) -> str | None:
        department = self.department_by_code.get(department_code)
        return department.region_code if department else None

    def covers_region(self, entry: CatalogueEntry, region_code: str) -> bool:
        return (
            entry.coverage_national
            or region_code in entry.coverage_regions
            or any(self.region_of(code) == region_code for code in entry.coverage_departments)
        )

    def covers_department(self, entry: CatalogueEntry, department_code: str) -> bool:
        return (
            entry.coverage_national
            or department_code in entry.coverage_departments
            or self.region_of(department_code) in entry.coverage_regions
        )

    def grid(self) -> list[tuple[str, list[AttributeInfo]]]:
        """The attributes by group, groups in display order (unknown groups last)."""
        groups: dict[str, list[AttributeInfo]] = {}
        for attribute in self.attributes:
            groups.setdefault(attribute.group, []).append(attribute)
        return list(groups.items())


def sort_key(text: str) -> str:
    """Accent- and case-insensitive key, so « Échanges » sorts with the E."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def catalogue_version(session: Session) -> tuple:
    """A cheap fingerprint of everything the index holds: one query, one scan per table."""
    offers = select(
        func.count(Offer.id),
        func.count(Offer.id).filter(Offer.status == OfferStatus.PUBLISHED),
        func.max(Offer.updated_at),
        func.sum(Offer.current_revision_id),
        func.sum(Offer.operator_id),
    ).subquery()
    programmes = select(
        func.count(SubsidyProgramme.id),
        func.sum(SubsidyProgramme.id),
        func.sum(SubsidyProgramme.quota_used),
        func.count(SubsidyProgramme.id).filter(SubsidyProgramme.status == "published"),
    ).subquery()
    operators = select(func.count(Operator.id), func.max(Operator.id)).subquery()
    attributes = select(func.count(ComparisonAttribute.key)).subquery()
    # Each subquery is one aggregate row: joining them needs no condition.
    row = session.exec(
        select(offers, programmes, operators, attributes).select_from(
            offers.join(programmes, sa.true())
            .join(operators, sa.true())
            .join(attributes, sa.true())
        )
    ).one()
    return tuple(str(value) for value in row)


def build_index(session: Session, version: tuple | None = None) -> CatalogueIndex:
    """Read the published catalogue from the database into a new index."""
    from portal.catalogue.filters import fill_masks  # the manifest needs the index types

    version = version if version is not None else catalogue_version(session)
    attributes = tuple(
        sorted(
            (_attribute_info(a) for a in session.exec(select(ComparisonAttribute)).all()),
            key=lambda a: (_group_rank(a.group), a.group, a.position, a.key),
        )
    )
    programmes: dict[int, list[ProgrammeInfo]] = {}
    for programme in session.exec(
        select(SubsidyProgramme)
        .where(SubsidyProgramme.status == "published")
        .order_by(SubsidyProgramme.region_code, SubsidyProgramme.id)
    ).all():
        programmes.setdefault(programme.offer_id, []).append(_programme_info(programme))
    rows = session.exec(
        select(Offer, OfferRevision, Operator)
        .join(OfferRevision, OfferRevision.id == Offer.current_revision_id)
        .join(Operator, Operator.id == Offer.operator_id)
        .where(Offer.status == OfferStatus.PUBLISHED)
    ).all()
    operators: dict[int, OperatorInfo] = {}
    rows = sorted(rows, key=lambda row: (sort_key(row[0].name), row[0].slug))
    entries = tuple(
        _entry(
            bit,
            offer,
            revision,
            operators.setdefault(operator.id, _operator_info(operator)),
            programmes.get(offer.id, ()),
        )
        for bit, (offer, revision, operator) in enumerate(rows)
    )
    regions = tuple(
        (region.code, region.name)
        for region in sorted(session.exec(select(Region)).all(), key=lambda r: sort_key(r.name))
    )
    departments = tuple(
        DepartmentInfo(d.code, d.name, d.region_code)
        for d in sorted(session.exec(select(Department)).all(), key=lambda d: d.code)
    )
    index = CatalogueIndex(
        version=version,
        entries=entries,
        attributes=attributes,
        regions=regions,
        departments=departments,
    )
    fill_masks(index)
    return index


class _IndexHolder:
    def __init__(self, check_seconds: float) -> None:
        self.index: CatalogueIndex | None = None
        self.lock = threading.Lock()
        self.check_seconds = check_seconds
        self.checked_at = float("-inf")


def current_index(session: Session, app: Flask | None = None) -> CatalogueIndex:
    """The index of this process, rebuilt first if the database holds another catalogue.

    The database is asked at most every ``Settings.catalogue_check_seconds`` (one second; every
    time in tests), so a change made by any process shows everywhere within that delay.
    """
    app = app or current_app
    holder: _IndexHolder | None = app.extensions.get("catalogue_index")
    if holder is None:
        settings = app.config["PORTAL_SETTINGS"]
        holder = app.extensions.setdefault(
            "catalogue_index", _IndexHolder(settings.catalogue_check_seconds)
        )
    index = holder.index
    now = time.monotonic()
    if index is not None and now - holder.checked_at < holder.check_seconds and not _too_old(index):
        return index
    version = catalogue_version(session)
    holder.checked_at = now
    if index is not None and index.version == version and not _too_old(index):
        return index
    with holder.lock:
        index = holder.index
        if index is None or index.version != version or _too_old(index):
            index = build_index(session, version)
            holder.index = index
    return index


def forget_index(app: Flask) -> None:
    """Drop this process's index (after an edit the version query cannot see)."""
    holder = app.extensions.get("catalogue_index")
    if holder is not None:
        holder.index = None


def _too_old(index: CatalogueIndex) -> bool:
    return time.monotonic() - index.built_at > MAX_AGE_SECONDS


def _group_rank(group: str) -> int:
    return GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)


def _attribute_info(attribute: ComparisonAttribute) -> AttributeInfo:
    return AttributeInfo(
        key=attribute.key,
        group=attribute.group,
        position=attribute.position,
        type=attribute.type,
        source=attribute.source,
        unit=attribute.unit,
        path=attribute.path,
        label=dict(attribute.label or {}),
        help=dict(attribute.help or {}),
        options=tuple(
            (str(option["value"]), option.get("label") or {"fr": str(option["value"])})
            for option in attribute.options or []
            if isinstance(option, dict) and "value" in option
        ),
        null_means=dict(attribute.null_means or {}),
        localized=attribute.localized,
        filterable=attribute.filterable,
    )


def _operator_info(operator: Operator) -> OperatorInfo:
    return OperatorInfo(
        id=operator.id,
        slug=operator.slug,
        name=operator.name,
        kind=operator.kind,
        demo=operator.demo,
        ans_contract=operator.ans_contract,
        hds_certified=operator.hds_certified,
        website=operator.website,
        support_hours=dict(operator.support_hours or {}),
        description=dict(operator.description or {}),
    )


def _programme_info(programme: SubsidyProgramme) -> ProgrammeInfo:
    return ProgrammeInfo(
        id=programme.id,
        slug=programme.slug,
        region_code=programme.region_code,
        name=dict(programme.name or {}),
        rule=programme.rule,
        value=programme.value,
        duration_months=programme.duration_months,
        structure_types=tuple(programme.structure_types or ()),
        professions=tuple(programme.professions or ()),
        departments=tuple(programme.departments or ()),
        quota_mailboxes=programme.quota_mailboxes,
        quota_used=programme.quota_used,
        needs_approval=programme.needs_approval,
        starts_on=programme.starts_on,
        ends_on=programme.ends_on,
    )


def _entry(
    bit: int,
    offer: Offer,
    revision: OfferRevision,
    operator: OperatorInfo,
    programmes: Iterable[ProgrammeInfo],
) -> CatalogueEntry:
    return CatalogueEntry(
        bit=bit,
        id=offer.id,
        slug=offer.slug,
        name=offer.name,
        sort_name=sort_key(offer.name),
        demo=offer.demo,
        mailbox_types=tuple(offer.mailbox_types or ()),
        professions=tuple(str(code) for code in offer.professions or ()),
        structure_types=tuple(offer.structure_types or ()),
        coverage_national=offer.coverage_national,
        coverage_regions=tuple(offer.coverage_regions or ()),
        coverage_departments=tuple(offer.coverage_departments or ()),
        max_per_professional=offer.max_per_professional,
        publisher_region_code=offer.publisher_region_code,
        operator=operator,
        revision_id=revision.id,
        revision_number=revision.number,
        price_cents=revision.price_cents,
        currency=revision.currency,
        billing_period=revision.billing_period,
        setup_fee_cents=revision.setup_fee_cents,
        commitment_months=revision.commitment_months,
        vat_rate_bp=revision.vat_rate_bp,
        features=dict(revision.features or {}),
        summary=dict(revision.summary or {}),
        description=dict(revision.description or {}),
        eligibility=dict(revision.eligibility or {}),
        programmes=tuple(programmes),
    )
