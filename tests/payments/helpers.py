"""Orders for payment tests."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from portal.subscriptions.models import Order, OrderState
from tests.factories import make_account, make_offer


def make_order(session: Session, *, state: str = OrderState.AWAITING_PAYMENT, **values) -> Order:
    account = values.pop("account", None) or make_account(session)
    offer = values.pop("offer", None) or make_offer(session, price_cents=1200)
    order = Order(
        idempotency_key=values.pop("idempotency_key", uuid.uuid4().hex),
        account_id=account.id,
        offer_revision_id=offer.current_revision_id,
        state=state,
        **values,
    )
    session.add(order)
    session.flush()
    return order
