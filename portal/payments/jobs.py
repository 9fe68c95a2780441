"""Periodic payment work, run by the scheduler with the reconciler (plain functions, no ids)."""

from __future__ import annotations

import logging

from portal.db import session_scope
from portal.payments import checkout, events, stripe_payments

log = logging.getLogger(__name__)


def payments_housekeeping() -> None:
    """Apply what Stripe says when webhooks were lost, suspend overdue renewals, bill the full
    price after a subsidy for a limited time, retry events."""
    with session_scope() as session:
        moved = checkout.reconcile_payments(session, stripe_payments())
        session.commit()
        suspended = checkout.suspend_overdue_orders(session)
        session.commit()
        full_price = checkout.end_subsidised_prices(session, stripe_payments())
        session.commit()
        applied = events.process_pending_events(session=session)
    if moved or suspended or full_price or applied:
        log.info(
            "payments reconciled",
            extra={
                "paid": moved,
                "suspended": suspended,
                "full_price": full_price,
                "events_applied": applied,
            },
        )
