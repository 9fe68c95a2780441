"""Suspending and resuming an order's mailboxes at the operator when a renewal goes unpaid.

The state change goes through the order state machine; the mailboxes are suspended (or resumed)
through the operator's provisioning adapter, as the pipeline terminates them. Each mailbox
call is recorded as a provisioning attempt; a transient failure raises so that the job runs
again later, and a mailbox already in the wanted state is skipped, so repeating is harmless.
"""

from __future__ import annotations

from flask import current_app
from sqlmodel import Session

from portal.db import utcnow
from portal.provisioning import registry
from portal.provisioning.interfaces import PermanentProvisioningError
from portal.provisioning.models import ProvisioningAttempt
from portal.provisioning.pipeline import lines_of, operator_of
from portal.subscriptions import states
from portal.subscriptions.models import Mailbox, MailboxState, Order, OrderState

STRIPE = "stripe"


def _set_mailboxes(session: Session, order: Order, *, action: str, to_state: str) -> None:
    settings = current_app.config["PORTAL_SETTINGS"]
    operator = operator_of(session, order)
    adapter = registry.adapter_for(operator, session=session, settings=settings)
    for line in lines_of(session, order.id):
        mailbox = session.get(Mailbox, line.mailbox_id) if line.mailbox_id else None
        if mailbox is None or mailbox.state in (to_state, MailboxState.TERMINATED):
            continue
        attempt = ProvisioningAttempt(
            order_line_id=line.id, mailbox_id=mailbox.id, operator_id=operator.id, action=action
        )
        session.add(attempt)
        try:
            if mailbox.external_id:
                getattr(adapter, action)(mailbox.external_id)
        except PermanentProvisioningError as error:
            attempt.outcome, attempt.error_code, attempt.message = (
                "permanent",
                error.code,
                error.message,
            )
            attempt.finished_at = utcnow()
            raise
        attempt.outcome, attempt.finished_at = "success", utcnow()
        mailbox.state = to_state
        session.add(mailbox)


def suspend_order(session: Session, order: Order, *, reason: str) -> None:
    """``active`` → ``suspended``: the mailboxes stop sending and receiving at the operator."""
    _set_mailboxes(session, order, action="suspend", to_state=MailboxState.SUSPENDED)
    states.transition(session, order, OrderState.SUSPENDED, actor=STRIPE, reason=reason)


def resume_order(session: Session, order: Order, *, reason: str) -> None:
    """``suspended`` → ``active`` once the overdue invoice is paid."""
    _set_mailboxes(session, order, action="resume", to_state=MailboxState.ACTIVE)
    states.transition(session, order, OrderState.ACTIVE, actor=STRIPE, reason=reason)
