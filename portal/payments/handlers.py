"""What each Stripe event does to the portal's orders (registered with ``events.handles``)."""

from __future__ import annotations

from sqlmodel import Session, select

from portal.payments.events import handles, object_metadata
from portal.payments.models import PaymentEvent
from portal.payments.stripe_service import subscription_of_invoice
from portal.subscriptions.models import Order


def order_for_subscription(session: Session, subscription_id: str | None) -> Order | None:
    if not subscription_id:
        return None
    return session.exec(
        select(Order).where(Order.stripe_subscription_id == subscription_id)
    ).first()


def _order_from_metadata(session: Session, stripe_object: dict) -> Order | None:
    raw = object_metadata(stripe_object).get("order_id")
    try:
        order_id = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
    return session.get(Order, order_id) if order_id else None


@handles("customer.subscription.created", "customer.subscription.updated")
def link_subscription(session: Session, row: PaymentEvent, subscription: dict) -> bool:
    """Remember which order a subscription pays for (its metadata names the order)."""
    order = _order_from_metadata(session, subscription) or order_for_subscription(
        session, subscription.get("id")
    )
    if order is None:
        return True  # a subscription the portal did not create: nothing to link
    if order.stripe_subscription_id is None:
        order.stripe_subscription_id = subscription.get("id")
        session.add(order)
    row.order_id = order.id
    return True


def order_for_invoice(session: Session, invoice: dict) -> Order | None:
    return order_for_subscription(session, subscription_of_invoice(invoice))
