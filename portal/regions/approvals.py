"""The region's approval queue: orders under its programmes that wait for its decision.

Decisions go through the order state machine (:mod:`portal.subscriptions.states`); an approved
order then follows the same path as any other (payment or straight to provisioning), and a
rejected one gives its share of the programme's quota and budget back.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Account, Professional, Structure
from portal.audit import record_audit
from portal.catalogue.models import Offer, OfferRevision
from portal.regions import subsidies
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderLine, OrderState
from portal.subscriptions.submission import continue_after_submission


class ApprovalError(Exception):
    """The decision cannot be applied; the message is for the user."""


@dataclass(frozen=True)
class PendingOrder:
    order: Order
    programme: SubsidyProgramme
    offer: Offer
    structure: Structure | None
    professional: Professional | None
    lines: list[OrderLine]


def pending_orders(session: Session, region_code: str) -> list[PendingOrder]:
    rows = session.exec(
        select(Order, SubsidyProgramme, Offer)
        .join(SubsidyProgramme, SubsidyProgramme.id == Order.programme_id)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .where(
            SubsidyProgramme.region_code == region_code,
            Order.state == OrderState.AWAITING_APPROVAL,
        )
        .order_by(Order.state_changed_at, Order.id)
    ).all()
    pending = []
    for order, programme, offer in rows:
        lines = list(
            session.exec(
                select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position)
            ).all()
        )
        pending.append(
            PendingOrder(
                order=order,
                programme=programme,
                offer=offer,
                structure=session.get(Structure, order.structure_id)
                if order.structure_id
                else None,
                professional=(
                    session.get(Professional, order.professional_id)
                    if order.professional_id
                    else None
                ),
                lines=lines,
            )
        )
    return pending


def _order_of_region(session: Session, region_code: str, order_id: int) -> Order:
    order = states.lock_order(session, order_id)
    programme = (
        session.get(SubsidyProgramme, order.programme_id) if order and order.programme_id else None
    )
    if order is None or programme is None or programme.region_code != region_code:
        raise LookupError(order_id)
    if order.state != OrderState.AWAITING_APPROVAL:
        raise ApprovalError(
            _(
                "Cette commande n’attend plus de décision : elle est déjà « %(state)s ».",
                state=states.label(order.state),
            )
        )
    return order


def approve(
    *,
    session: Session,
    region_code: str,
    order_id: int,
    account: Account,
    reason: str | None = None,
) -> Order:
    order = _order_of_region(session, region_code, order_id)
    actor = f"staff:{account.id}"
    states.transition(
        session, order, OrderState.APPROVED, actor=actor, reason=reason or "Approved by the region"
    )
    continue_after_submission(session, order, actor=actor)
    record_audit(
        session,
        action="order_approved",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="order",
        target_id=order.id,
        details={"region": region_code},
    )
    return order


def reject(
    *, session: Session, region_code: str, order_id: int, account: Account, reason: str
) -> Order:
    if not reason.strip():
        raise ApprovalError(
            _("Indiquez le motif du refus : il est transmis à la personne qui a commandé.")
        )
    order = _order_of_region(session, region_code, order_id)
    states.transition(
        session, order, OrderState.REJECTED, actor=f"staff:{account.id}", reason=reason.strip()
    )
    subsidy = (order.quote or {}).get("subsidy")
    if subsidy:
        subsidies.release(session, subsidy)
    record_audit(
        session,
        action="order_rejected",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="order",
        target_id=order.id,
        details={"region": region_code},
    )
    return order
