"""/webhooks/stripe: signatures checked on the raw body, each event stored and applied once."""

from __future__ import annotations

import time

from sqlmodel import select

from portal.payments.models import PaymentEvent
from portal.subscriptions.models import Order
from tests.payments.conftest import event_body, signed_headers
from tests.payments.helpers import make_order


def stored_events(db_session, event_id):
    return db_session.exec(
        select(PaymentEvent).where(PaymentEvent.stripe_event_id == event_id)
    ).all()


def test_signed_event_is_stored_and_linked_to_its_order(client, db_session, stripe_service):
    order = make_order(db_session)
    body = event_body(
        "evt_link_1",
        "customer.subscription.created",
        {"id": "sub_link_1", "object": "subscription", "metadata": {"order_id": str(order.id)}},
    )
    response = client.post("/webhooks/stripe", data=body, headers=signed_headers(body))
    assert response.status_code == 200
    [row] = stored_events(db_session, "evt_link_1")
    assert row.order_id == order.id and row.processed_at is not None
    assert db_session.get(Order, order.id).stripe_subscription_id == "sub_link_1"


def test_the_same_event_ten_times_is_stored_once(client, db_session, stripe_service):
    order = make_order(db_session)
    body = event_body(
        "evt_replay_1",
        "customer.subscription.created",
        {"id": "sub_replay_1", "object": "subscription", "metadata": {"order_id": str(order.id)}},
    )
    answers = [
        client.post("/webhooks/stripe", data=body, headers=signed_headers(body)).get_json()
        for _ in range(10)
    ]
    assert [a["duplicate"] for a in answers] == [False] + [True] * 9
    assert len(stored_events(db_session, "evt_replay_1")) == 1


def test_bad_signature_is_refused_and_changes_nothing(client, db_session, stripe_service):
    order = make_order(db_session)
    body = event_body(
        "evt_forged_1",
        "customer.subscription.created",
        {"id": "sub_forged", "object": "subscription", "metadata": {"order_id": str(order.id)}},
    )
    forged = signed_headers(body, secret="whsec_not_the_right_one")
    assert client.post("/webhooks/stripe", data=body, headers=forged).status_code == 400
    assert client.post("/webhooks/stripe", data=body).status_code == 400  # no signature
    tampered = body.replace(b"sub_forged", b"sub_other!")
    assert (
        client.post("/webhooks/stripe", data=tampered, headers=signed_headers(body)).status_code
        == 400
    )
    old = signed_headers(body, timestamp=int(time.time()) - 3600)  # replayed an hour later
    assert client.post("/webhooks/stripe", data=body, headers=old).status_code == 400
    assert stored_events(db_session, "evt_forged_1") == []
    assert db_session.get(Order, order.id).stripe_subscription_id is None


def test_webhooks_are_refused_without_a_secret(client, db_session, app):
    body = event_body("evt_nosecret", "customer.created", {"id": "cus_x"})
    response = client.post("/webhooks/stripe", data=body, headers=signed_headers(body))
    assert response.status_code == 400
    assert stored_events(db_session, "evt_nosecret") == []
