"""Reading the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from portal.catalogue.models import Offer, OfferRevision, OfferStatus, Operator


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
    published = (
        select(Offer.id, Offer.operator_id, OfferRevision.price_cents)
        .join(OfferRevision, OfferRevision.id == Offer.current_revision_id)
        .where(Offer.status == OfferStatus.PUBLISHED)
        .subquery()
    )
    offers, operators, free = session.exec(
        select(
            func.count(published.c.id),
            func.count(func.distinct(published.c.operator_id)),
            func.count(published.c.id).filter(published.c.price_cents == 0),
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
