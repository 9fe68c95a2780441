"""Periodic payment work, run by the scheduler with the reconciler (plain functions, no ids)."""

from __future__ import annotations

import logging

from portal.db import session_scope
from portal.payments import checkout, events, stripe_payments

log = logging.getLogger(__name__)


def payments_housekeeping() -> None:
    """Apply what Stripe says when webhooks were lost, suspend overdue renewals, retry events."""
    with session_scope() as session:
        moved = checkout.reconcile_payments(session, stripe_payments())
        session.commit()
        suspended = checkout.suspend_overdue_orders(session)
        session.commit()
        applied = events.process_pending_events(session=session)
    if moved or suspended or applied:
        log.info(
            "payments reconciled",
            extra={"paid": moved, "suspended": suspended, "events_applied": applied},
        )
