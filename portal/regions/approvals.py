"""The region's approval queue: orders under its programmes that wait for its decision.

Decisions go through the order state machine (:mod:`portal.subscriptions.states`); an approved
order then follows the same path as any other (payment or straight to provisioning), and a
rejected one gives its share of the programme's quota and budget back.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlmodel import Session, and_, or_, select

from portal.accounts.models import Account, Professional, Structure
from portal.audit import record_audit
from portal.catalogue.models import Department, Offer, OfferRevision
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderLine, OrderState
from portal.subscriptions.submission import continue_after_submission


def placed_outside_activities(session: Session, order: Order) -> bool:
    from portal.structures.approvals import placed_outside_activities as outside

    return outside(session, order)


class ApprovalError(Exception):
    """The decision cannot be applied; the message is for the user."""


@dataclass(frozen=True)
class PendingOrder:
    order: Order
    programme: SubsidyProgramme | None  # None: the orderer is not in the structure's activities
    offer: Offer
    structure: Structure | None
    professional: Professional | None
    lines: list[OrderLine]
    orderer_outside: bool  # the orderer's PSC activities do not list the structure


def _structures_of_region(region_code: str):
    return (
        select(Structure.id)
        .join(Department, Department.code == Structure.department_code)
        .where(Department.region_code == region_code)
    )


def pending_orders(session: Session, region_code: str) -> list[PendingOrder]:
    """Orders waiting for the region: under one of its programmes, or, without a programme,
    for a structure of the region (placed by someone its PSC activities do not list)."""
    rows = session.exec(
        select(Order, SubsidyProgramme, Offer)
        .outerjoin(SubsidyProgramme, SubsidyProgramme.id == Order.programme_id)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .where(
            Order.state == OrderState.AWAITING_APPROVAL,
            or_(
                SubsidyProgramme.region_code == region_code,
                and_(
                    Order.programme_id.is_(None),
                    Order.structure_id.in_(_structures_of_region(region_code)),
                ),
            ),
        )
        .order_by(Order.state_changed_at, Order.id)
    ).all()
    return [describe(session, order, programme, offer) for order, programme, offer in rows]


def describe(
    session: Session, order: Order, programme: SubsidyProgramme | None, offer: Offer
) -> PendingOrder:
    lines = list(
        session.exec(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position)
        ).all()
    )
    return PendingOrder(
        order=order,
        programme=programme,
        offer=offer,
        structure=session.get(Structure, order.structure_id) if order.structure_id else None,
        professional=(
            session.get(Professional, order.professional_id) if order.professional_id else None
        ),
        lines=lines,
        orderer_outside=placed_outside_activities(session, order),
    )


def region_of_order(session: Session, order: Order) -> str | None:
    """The region that decides: its programme's, else the region of the structure it is for."""
    if order.programme_id:
        programme = session.get(SubsidyProgramme, order.programme_id)
        return programme.region_code if programme else None
    structure = session.get(Structure, order.structure_id) if order.structure_id else None
    department = (
        session.get(Department, structure.department_code)
        if structure and structure.department_code
        else None
    )
    return department.region_code if department else None


def waiting(order: Order) -> None:
    if order.state != OrderState.AWAITING_APPROVAL:
        raise ApprovalError(
            _(
                "Cette commande n’attend plus de décision : elle est déjà « %(state)s ».",
                state=states.label(order.state),
            )
        )


def _order_of_region(session: Session, region_code: str, order_id: int) -> Order:
    order = states.lock_order(session, order_id)
    if order is None or region_of_order(session, order) != region_code:
        raise LookupError(order_id)
    waiting(order)
    return order


def record_approval(
    session: Session, order: Order, *, account: Account, reason: str, details: dict
) -> None:
    """Approve a waiting order: it then goes on to payment or provisioning."""
    actor = f"staff:{account.id}"
    states.transition(session, order, OrderState.APPROVED, actor=actor, reason=reason)
    continue_after_submission(session, order, actor=actor)
    record_audit(
        session,
        action="order_approved",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="order",
        target_id=order.id,
        details=details,
    )


def record_rejection(
    session: Session, order: Order, *, account: Account, reason: str, details: dict
) -> None:
    """Reject a waiting order with the reason given to the orderer; its subsidy share returns
    (the state machine gives it back)."""
    if not reason.strip():
        raise ApprovalError(
            _("Indiquez le motif du refus : il est transmis à la personne qui a commandé.")
        )
    states.transition(
        session, order, OrderState.REJECTED, actor=f"staff:{account.id}", reason=reason.strip()
    )
    record_audit(
        session,
        action="order_rejected",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="order",
        target_id=order.id,
        details=details,
    )


def approve(
    *,
    session: Session,
    region_code: str,
    order_id: int,
    account: Account,
    reason: str | None = None,
) -> Order:
    order = _order_of_region(session, region_code, order_id)
    record_approval(
        session,
        order,
        account=account,
        reason=reason or "Approved by the region",
        details={"region": region_code},
    )
    return order


def reject(
    *, session: Session, region_code: str, order_id: int, account: Account, reason: str
) -> Order:
    # record_rejection refuses an empty reason.
    order = _order_of_region(session, region_code, order_id)
    record_rejection(
        session, order, account=account, reason=reason, details={"region": region_code}
    )
    return order
