"""What happens to an order once submitted: approval, payment or straight to provisioning."""

from __future__ import annotations

from sqlmodel import Session

from portal.regions.models import SubsidyProgramme
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderState

SYSTEM = "system"


def continue_after_submission(session: Session, order: Order, *, actor: str = SYSTEM) -> None:
    """Move a submitted, approved or paid order to its next step.

    Orders whose subsidy programme needs approval wait for it; paid offers wait for payment
    (the payments domain moves them on); free and fully subsidised offers go straight to
    provisioning.
    """
    from portal.provisioning.pipeline import start_provisioning

    state = OrderState(order.state)
    if state == OrderState.SUBMITTED:
        programme = (
            session.get(SubsidyProgramme, order.programme_id) if order.programme_id else None
        )
        if programme is not None and programme.needs_approval:
            states.transition(
                session,
                order,
                OrderState.AWAITING_APPROVAL,
                actor=actor,
                reason="The subsidy programme needs approval",
            )
            return
        state = OrderState.APPROVED  # nothing to approve: same next step as an approved order
    if state == OrderState.APPROVED:
        if order.total_cents > 0:
            states.transition(
                session, order, OrderState.AWAITING_PAYMENT, actor=actor, reason="Payment due"
            )
            return
        start_provisioning(session, order, actor=actor, reason="Nothing to pay")
        return
    if state == OrderState.PAID:
        start_provisioning(session, order, actor=actor, reason="Payment received")
