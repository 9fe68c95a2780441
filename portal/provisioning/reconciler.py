"""The reconciler: what the database says must happen, handed to the workers again.

Redis only carries work; a lost job, a Redis restart or a worker killed in the middle of a
creation leaves the order in its state in the database. Every few minutes (scheduled by
``flask --app portal worker``, or by hand with ``flask --app portal reconcile``) this module
finds orders sitting in a state handled by background work longer than its deadline
(:data:`portal.subscriptions.states.DEADLINES`) and enqueues their job again; the jobs are
idempotent, so nothing is done twice. E-mails still pending in the outbox are re-sent too.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from portal.db import utcnow
from portal.mail.models import OutboxMessage
from portal.mail.services import send_outbox_message
from portal.provisioning.models import ProvisioningAttempt
from portal.queue import enqueue
from portal.subscriptions.models import Order, OrderLine, OrderState
from portal.subscriptions.states import DEADLINES

log = logging.getLogger(__name__)
OUTBOX_DEADLINE = dt.timedelta(minutes=10)


@dataclass
class ReconcileReport:
    orders: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"Orders handed to the workers again: {len(self.orders)}"
            + (f" ({', '.join(map(str, self.orders))})" if self.orders else ""),
            f"E-mails handed to the workers again: {len(self.emails)}",
        ]


def reconcile(session: Session, *, now: dt.datetime | None = None) -> ReconcileReport:
    """Re-enqueue the work of every order and e-mail stuck beyond its deadline."""
    from portal.provisioning import jobs

    now = now or utcnow()
    report = ReconcileReport()
    for state, deadline in DEADLINES.items():
        for order in _stuck(session, state, now - deadline):
            report.orders.append(order.id)
            if state in (OrderState.PROVISIONING,):
                enqueue(jobs.provision_order, order.id, queue="provisioning")
                enqueue(jobs.register_order_in_directory, order.id, queue="directory")
            elif state == OrderState.TERMINATING:
                enqueue(jobs.terminate_order, order.id, queue="provisioning")
            else:
                # submitted / approved / paid: the step that should have moved it on was lost.
                _resume(session, order)
    for message in session.exec(
        select(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.created_at < now - OUTBOX_DEADLINE
        )
    ):
        report.emails.append(message.id)
        enqueue(send_outbox_message, message.id, queue="mail")
    if report.orders or report.emails:
        log.info("reconciled", extra={"orders": report.orders, "emails": report.emails})
    return report


def _stuck(session: Session, state: OrderState, before: dt.datetime) -> list[Order]:
    """Orders in ``state`` with no change and no provisioning activity since ``before``."""
    last_attempt = (
        select(sa.func.max(ProvisioningAttempt.started_at))
        .join(OrderLine, OrderLine.id == ProvisioningAttempt.order_line_id)
        .where(OrderLine.order_id == Order.id)
        .scalar_subquery()
    )
    query = select(Order).where(
        Order.state == state,
        Order.state_changed_at < before,
        sa.or_(last_attempt.is_(None), last_attempt < before),
    )
    return list(session.exec(query.order_by(Order.id).limit(500)))


def _resume(session: Session, order: Order) -> None:
    from portal.subscriptions.submission import continue_after_submission

    continue_after_submission(session, order)
