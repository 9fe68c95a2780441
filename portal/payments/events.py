"""Stripe webhook events: stored once by event id, applied idempotently, in any order.

Stripe may deliver an event several times, late, or before the event that logically precedes
it (``invoice.payment_succeeded`` before we have recorded the subscription). So:

- :func:`record_event` stores each event exactly once (the unique Stripe event id decides, even
  under concurrent deliveries);
- :func:`process_event` hands it to the handler for its type. A handler returns ``False`` when
  the event cannot be applied yet (the order it concerns is not known); the event then stays
  pending and :func:`process_pending_events` applies it later, when the link exists;
- handlers only move an order forward from the states where the event makes sense, so applying
  an event twice, or an old event after a newer one, changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal.db import utcnow
from portal.payments.models import PaymentEvent

log = logging.getLogger(__name__)

# event type -> handler(session, event_row, stripe_object) -> True if applied (or nothing to do)
Handler = Callable[[Session, PaymentEvent, dict], bool]
HANDLERS: dict[str, Handler] = {}
PENDING_FOR = dt.timedelta(days=3)


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register a handler for Stripe event types (one handler per type)."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[event_type] = handler
        return handler

    return register


def record_event(*, session: Session, event: dict) -> tuple[PaymentEvent, bool]:
    """Store ``event`` once. Returns the stored row and whether this delivery was the first.

    Concurrent deliveries of one event race on the unique event id; the loser reads the row the
    winner wrote. The insert runs in a savepoint so the caller's transaction survives the race.
    """
    event_id = str(event["id"])
    existing = _find(session, event_id)
    if existing is not None:
        return existing, False
    row = PaymentEvent(
        stripe_event_id=event_id,
        type=str(event.get("type", ""))[:80],
        payload=event,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except sa.exc.IntegrityError:
        existing = _find(session, event_id)
        if existing is None:
            raise
        return existing, False
    return row, True


def process_event(*, session: Session, payment_event: PaymentEvent) -> bool:
    """Apply a stored event if it is not applied yet. Returns True once it is applied."""
    if payment_event.processed_at is not None:
        return True
    data = payment_event.payload.get("data") or {}
    stripe_object = data.get("object") or {}
    handler = HANDLERS.get(payment_event.type)
    # A type the portal does not act on is kept for the record and counts as applied.
    applied = True if handler is None else handler(session, payment_event, stripe_object)
    if applied:
        payment_event.processed_at = utcnow()
        payment_event.error = None
    else:
        payment_event.error = "waiting for the order this event concerns"
    session.add(payment_event)
    return applied


def process_pending_events(*, session: Session, limit: int = 200) -> int:
    """Apply the events that were waiting for their order; returns how many were applied.

    Events still unlinked after :data:`PENDING_FOR` concern subscriptions the portal no longer
    follows (an order that moved on to a new subscription): they stay stored, unapplied.
    """
    pending = session.exec(
        select(PaymentEvent)
        .where(PaymentEvent.processed_at.is_(None))  # type: ignore[union-attr]
        .where(PaymentEvent.received_at >= utcnow() - PENDING_FOR)
        .order_by(PaymentEvent.id)
        .limit(limit)
    ).all()
    return sum(1 for row in pending if process_event(session=session, payment_event=row))


def _find(session: Session, event_id: str) -> PaymentEvent | None:
    return session.exec(
        select(PaymentEvent).where(PaymentEvent.stripe_event_id == event_id)
    ).first()


def object_metadata(stripe_object: dict[str, Any]) -> dict[str, Any]:
    metadata = stripe_object.get("metadata")
    return metadata if isinstance(metadata, dict) else {}
