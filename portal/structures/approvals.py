"""Orders for a structure placed by someone its Pro Santé Connect activities do not list.

A professional whose PSC activities list the structure orders directly. Anyone else allowed
into the structure space (a delegated manager, platform staff) places the order, which then
waits for a decision: by the region of the structure (its approval queue, see
:mod:`portal.regions.approvals`) or by another manager of the structure, here. When the order
also falls under a regional programme that needs approval, only the region decides.

Why an order waits is read from its history (the event that moved it to
``awaiting_approval``), so no extra column is needed and the reason is visible to everyone.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Account, Structure
from portal.catalogue.models import Offer, OfferRevision
from portal.regions.approvals import (
    ApprovalError,
    PendingOrder,
    describe,
    record_approval,
    record_rejection,
    waiting,
)
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderEvent, OrderState

OUTSIDE_ACTIVITIES = "The orderer's Pro Santé Connect activities do not list the structure"

__all__ = [
    "OUTSIDE_ACTIVITIES",
    "ApprovalError",
    "approve",
    "may_decide",
    "pending_for_structure",
    "placed_outside_activities",
    "reject",
    "send_for_approval",
]


def send_for_approval(session: Session, order: Order, *, actor: str) -> None:
    """Move a submitted order to ``awaiting_approval``, recording why."""
    states.transition(
        session, order, OrderState.AWAITING_APPROVAL, actor=actor, reason=OUTSIDE_ACTIVITIES
    )


def placed_outside_activities(session: Session, order: Order) -> bool:
    return (
        session.exec(
            select(OrderEvent.id).where(
                OrderEvent.order_id == order.id,
                OrderEvent.to_state == OrderState.AWAITING_APPROVAL,
                OrderEvent.reason == OUTSIDE_ACTIVITIES,
            )
        ).first()
        is not None
    )


def _programme_needs_region(session: Session, order: Order) -> bool:
    programme = session.get(SubsidyProgramme, order.programme_id) if order.programme_id else None
    return programme is not None and programme.needs_approval


def may_decide(session: Session, order: Order, account: Account) -> bool:
    """A structure manager other than the orderer, for an order waiting for that reason only."""
    return (
        order.state == OrderState.AWAITING_APPROVAL
        and order.account_id != account.id
        and placed_outside_activities(session, order)
        and not _programme_needs_region(session, order)
    )


def pending_for_structure(session: Session, structure_id: int) -> list[PendingOrder]:
    rows = session.exec(
        select(Order, Offer)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .where(Order.structure_id == structure_id, Order.state == OrderState.AWAITING_APPROVAL)
        .order_by(Order.state_changed_at, Order.id)
    ).all()
    return [
        describe(
            session,
            order,
            session.get(SubsidyProgramme, order.programme_id) if order.programme_id else None,
            offer,
        )
        for order, offer in rows
    ]


def _decidable(session: Session, structure: Structure, order_id: int, account: Account) -> Order:
    order = states.lock_order(session, order_id)
    if order is None or order.structure_id != structure.id:
        raise LookupError(order_id)
    waiting(order)
    if order.account_id == account.id:
        raise ApprovalError(
            _(
                "Vous avez passé cette commande : un autre responsable de la structure "
                "ou la région doit la valider."
            )
        )
    if _programme_needs_region(session, order):
        raise ApprovalError(
            _("Cette commande relève d’un programme régional : seule la région peut la valider.")
        )
    if not placed_outside_activities(session, order):
        raise ApprovalError(_("Cette commande attend la décision de la région."))
    return order


def approve(*, session: Session, structure: Structure, order_id: int, account: Account) -> Order:
    order = _decidable(session, structure, order_id, account)
    record_approval(
        session,
        order,
        account=account,
        reason="Approved by a manager of the structure",
        details={"structure": structure.id},
    )
    return order


def reject(
    *, session: Session, structure: Structure, order_id: int, account: Account, reason: str
) -> Order:
    # record_rejection refuses an empty reason.
    order = _decidable(session, structure, order_id, account)
    record_rejection(
        session, order, account=account, reason=reason, details={"structure": structure.id}
    )
    return order
