"""Who may pay an order, see its purchase order form, and record the purchase order received.

Built on the back-office authorisation policy (:mod:`portal.accounts.policy`): operator staff
act on the orders of their own operators, platform staff on every order; the payer is the
person who ordered or a manager of the structure the order is for.
"""

from __future__ import annotations

from sqlmodel import Session

from portal.accounts.models import Account
from portal.accounts.policy import can_manage_structure, operator_ids_for
from portal.catalogue.models import Offer, OfferRevision
from portal.subscriptions.models import Order


def operator_of(session: Session, order: Order) -> int:
    revision = session.get(OfferRevision, order.offer_revision_id)
    return session.get(Offer, revision.offer_id).operator_id


def is_payment_staff(session: Session, account: Account | None, order: Order) -> bool:
    """Platform staff, or staff of the operator that provisions the order's offer."""
    if account is None:
        return False
    operators = operator_ids_for(session, account)
    return operators is None or operator_of(session, order) in operators


def can_pay_order(session: Session, account: Account | None, order: Order) -> bool:
    """The person who placed the order, or a manager of the structure it is for."""
    if account is None:
        return False
    if order.account_id == account.id:
        return True
    return order.structure_id is not None and can_manage_structure(
        session, account, order.structure_id
    )


def can_view_order_form(session: Session, account: Account | None, order: Order) -> bool:
    return can_pay_order(session, account, order) or is_payment_staff(session, account, order)
