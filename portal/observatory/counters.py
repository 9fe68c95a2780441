"""Counting views of offer pages, one row per offer and day (no visitor is recorded)."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, Response, request
from sqlmodel import Session, select

from portal.catalogue.models import Offer
from portal.db import insert_with_conflicts, session_scope, utcnow
from portal.observatory.models import OfferViewCount

log = logging.getLogger(__name__)

OFFER_PAGE_ENDPOINT = "catalogue.offer"


def record_offer_view(session: Session, *, offer_id: int, day: dt.date) -> None:
    """Add one view in a single statement, safe under concurrent requests."""
    statement = insert_with_conflicts(session, OfferViewCount).values(
        offer_id=offer_id, day=day, views=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["offer_id", "day"],
        set_={"views": OfferViewCount.__table__.c.views + 1},
    )
    session.execute(statement)


def init_app(app: Flask) -> None:
    @app.after_request
    def _count_offer_views(response: Response) -> Response:
        if (
            request.endpoint != OFFER_PAGE_ENDPOINT
            or request.method != "GET"
            or response.status_code != 200
        ):
            return response
        try:
            with session_scope(app) as session:
                offer_id = session.exec(
                    select(Offer.id).where(Offer.slug == (request.view_args or {}).get("slug"))
                ).first()
                if offer_id is not None:
                    record_offer_view(session, offer_id=offer_id, day=utcnow().date())
        except Exception:  # a lost count must never cost the visitor their page
            log.exception("offer view not counted")
        return response
