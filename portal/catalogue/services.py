"""Reading the catalogue: search, one offer, a comparison.

Services take the session explicitly and plain data (a MultiDict of query parameters, a list
of slugs), never the request, so the pages, the API and the benchmark share them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select
from werkzeug.datastructures import MultiDict

from portal.catalogue.filters import FilterState, SearchResult, parse_filters, search
from portal.catalogue.index import CatalogueEntry, CatalogueIndex, current_index
from portal.catalogue.models import Offer, OfferRevision, OfferStatus, Operator

MIN_COMPARED = 2
MAX_COMPARED = 4


@dataclass(frozen=True)
class CatalogueSummary:
    offers: int
    operators: int
    free_offers: int


@dataclass(frozen=True)
class OfferListing:
    offer: Offer
    revision: OfferRevision
    operator: Operator


def catalogue_summary(session: Session) -> CatalogueSummary:
    """Figures for the home page (free: no subscription and no setup fee)."""
    published = (
        select(
            Offer.id,
            Offer.operator_id,
            OfferRevision.price_cents,
            OfferRevision.setup_fee_cents,
        )
        .join(OfferRevision, OfferRevision.id == Offer.current_revision_id)
        .where(Offer.status == OfferStatus.PUBLISHED)
        .subquery()
    )
    offers, operators, free = session.exec(
        select(
            func.count(published.c.id),
            func.count(func.distinct(published.c.operator_id)),
            func.count(published.c.id).filter(
                published.c.price_cents == 0, published.c.setup_fee_cents == 0
            ),
        )
    ).one()
    return CatalogueSummary(offers=offers, operators=operators, free_offers=free)


def published_offers(session: Session) -> list[OfferListing]:
    """Every published offer with its current terms and operator, by name."""
    rows = session.exec(
        select(Offer, OfferRevision, Operator)
        .join(OfferRevision, OfferRevision.id == Offer.current_revision_id)
        .join(Operator, Operator.id == Offer.operator_id)
        .where(Offer.status == OfferStatus.PUBLISHED)
        .order_by(Offer.name)
    ).all()
    return [OfferListing(offer, revision, operator) for offer, revision, operator in rows]


@dataclass(frozen=True)
class Finder:
    """The choices of the home page's "find an offer" form (a shortcut into /offres)."""

    regions: tuple[tuple[str, str], ...]
    professions: tuple[tuple[str, dict[str, str]], ...]
    structures: tuple[tuple[str, dict[str, str]], ...]


def catalogue_finder(*, session: Session) -> Finder:
    index = current_index(session)
    professions = index.attributes_by_key.get("professions")
    structures = index.attributes_by_key.get("structure_types")
    return Finder(
        regions=index.regions,
        professions=professions.options if professions else (),
        structures=structures.options if structures else (),
    )


def search_catalogue(
    *,
    session: Session,
    args: MultiDict,
    per_page: int = 20,
    today: dt.date | None = None,
) -> tuple[CatalogueIndex, SearchResult]:
    """Published offers matching the catalogue's query parameters."""
    index = current_index(session)
    state: FilterState = parse_filters(args, index)
    return index, search(index, state, per_page=per_page, today=today)


def find_offer(*, session: Session, slug: str) -> tuple[CatalogueIndex, CatalogueEntry | None]:
    index = current_index(session)
    return index, index.by_slug.get(slug)


@dataclass
class ComparisonRequest:
    """The offers to compare, read from ``offres`` values, and what had to be left out."""

    entries: list[CatalogueEntry] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # beyond the fourth

    @property
    def slugs(self) -> list[str]:
        return [entry.slug for entry in self.entries]

    @property
    def enough(self) -> bool:
        return len(self.entries) >= MIN_COMPARED


def comparison_request(
    *, session: Session, values: list[str]
) -> tuple[CatalogueIndex, ComparisonRequest]:
    """Read ``offres=a,b,c`` (or repeated ``offres``): known, distinct, at most four."""
    index = current_index(session)
    request = ComparisonRequest()
    for value in values:
        for slug in (part.strip() for part in value.split(",")):
            if not slug:
                continue
            shown = slug if len(slug) <= 60 else slug[:59] + "…"
            entry = index.by_slug.get(slug)
            if entry is None:
                request.unknown.append(shown)
            elif entry in request.entries:
                request.duplicates.append(shown)
            elif len(request.entries) >= MAX_COMPARED:
                request.dropped.append(entry.name)
            else:
                request.entries.append(entry)
    return index, request
