"""Who may see an order's payment pages and who may record a purchase order as received.

Kept in one place so that the identity domain's authorisation policy can replace it whole.
"""

from __future__ import annotations

from sqlmodel import Session, select

from portal.accounts.models import Account, Membership, Role
from portal.catalogue.models import Offer, OfferRevision
from portal.subscriptions.models import Order


def _memberships(session: Session, account: Account) -> list[Membership]:
    return list(session.exec(select(Membership).where(Membership.account_id == account.id)))


def operator_of(session: Session, order: Order) -> int:
    revision = session.get(OfferRevision, order.offer_revision_id)
    return session.get(Offer, revision.offer_id).operator_id


def is_payment_staff(session: Session, account: Account | None, order: Order) -> bool:
    """Platform staff, or staff of the operator that provisions the order's offer."""
    if account is None:
        return False
    operator_id = operator_of(session, order)
    return any(
        m.role == Role.PLATFORM_ADMIN
        or (m.role == Role.OPERATOR_ADMIN and m.operator_id == operator_id)
        for m in _memberships(session, account)
    )


def can_pay_order(session: Session, account: Account | None, order: Order) -> bool:
    """The person who placed the order, or a manager of the structure it is for."""
    if account is None:
        return False
    if order.account_id == account.id:
        return True
    return order.structure_id is not None and any(
        m.role == Role.STRUCTURE_MANAGER and m.structure_id == order.structure_id
        for m in _memberships(session, account)
    )


def can_view_order_form(session: Session, account: Account | None, order: Order) -> bool:
    return can_pay_order(session, account, order) or is_payment_staff(session, account, order)
