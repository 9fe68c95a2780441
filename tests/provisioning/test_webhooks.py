"""Operator status callbacks: signed ones move the order on, anything else changes nothing."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import select

from portal import queue
from portal.provisioning.pipeline import start_provisioning
from portal.provisioning.signatures import SIGNATURE_HEADER, sign, verify
from portal.subscriptions.models import Mailbox, Order, OrderLine, OrderState
from tests.provisioning.helpers import SANDBOX_CALLBACK_SECRET, make_order, sandbox_operator


@pytest.fixture
def pending_order(app, db_session, settings, clean_sandbox):
    """An order whose creation the operator accepted and will complete later (202)."""
    queue.runner(app).clear()
    clean_sandbox.faults(async_seconds=3600)
    with app.app_context():
        operator = sandbox_operator(db_session, settings, clean_sandbox)
        order = make_order(db_session, operator=operator)
        start_provisioning(db_session, order, actor="account:1")
        db_session.commit()
        queue.drain(app)
    line = db_session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).one()
    mailbox = db_session.get(Mailbox, line.mailbox_id)
    yield operator, db_session.get(Order, order.id), mailbox
    queue.runner(app).clear()


def _callback(mailbox: Mailbox, status: str = "active", external_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "event": "mailbox.status",
            "sent_at": "2026-11-25T10:00:00Z",
            "mailbox": {
                "id": external_id or mailbox.external_id,
                "address": mailbox.address,
                "type": "PER",
                "status": status,
                "idempotency_key": "k" * 20,
                "connection": {"imap_host": "imap.example.test", "imap_port": 993},
            },
        }
    ).encode()


def test_an_accepted_creation_waits_for_the_operator(pending_order):
    _, order, mailbox = pending_order
    assert order.state == OrderState.PROVISIONING
    assert mailbox.state == "pending"
    assert mailbox.external_id.startswith("mbx_")


def test_a_signed_callback_completes_the_order(app, client, db_session, pending_order):
    operator, order, mailbox = pending_order
    body = _callback(mailbox)
    response = client.post(
        f"/webhooks/operators/{operator.slug}",
        data=body,
        headers={SIGNATURE_HEADER: sign(SANDBOX_CALLBACK_SECRET, body)},
        content_type="application/json",
    )
    assert response.status_code == 204
    with app.app_context():
        queue.drain(app)
    assert db_session.get(Order, order.id).state == OrderState.ACTIVE
    assert db_session.get(Mailbox, mailbox.id).connection["imap_host"] == "imap.example.test"


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=00",
        sign("not-the-operator-secret", b"{}"),
        sign(SANDBOX_CALLBACK_SECRET, b"{}", int(time.time()) - 3600),
    ],
    ids=["missing", "garbage", "wrong-secret", "too-old"],
)
def test_a_callback_without_a_valid_signature_is_refused_and_changes_nothing(
    app, client, db_session, pending_order, signature
):
    operator, order, mailbox = pending_order
    body = _callback(mailbox)
    headers = {SIGNATURE_HEADER: signature} if signature else {}
    response = client.post(
        f"/webhooks/operators/{operator.slug}",
        data=body,
        headers=headers,
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json["code"] == "bad_signature"
    with app.app_context():
        queue.drain(app)
    assert db_session.get(Order, order.id).state == OrderState.PROVISIONING
    assert db_session.get(Mailbox, mailbox.id).state == "pending"


def test_a_callback_for_an_unknown_operator_is_refused(client):
    body = b"{}"
    response = client.post(
        "/webhooks/operators/nobody",
        data=body,
        headers={SIGNATURE_HEADER: sign(SANDBOX_CALLBACK_SECRET, body)},
    )
    assert response.status_code == 401


def test_a_signed_callback_about_an_unknown_mailbox_is_a_404(client, pending_order):
    operator, _, mailbox = pending_order
    body = _callback(mailbox, external_id="mbx_unknown")
    response = client.post(
        f"/webhooks/operators/{operator.slug}",
        data=body,
        headers={SIGNATURE_HEADER: sign(SANDBOX_CALLBACK_SECRET, body)},
    )
    assert response.status_code == 404


def test_signatures_cover_the_time_and_the_body():
    body = b'{"a": 1}'
    header = sign("secret", body, 1_000_000)
    assert verify("secret", body, header, now=1_000_010)
    assert not verify("secret", b'{"a": 2}', header, now=1_000_010)
    assert not verify("secret", body, header, now=1_000_000 + 301)
    assert not verify("other", body, header, now=1_000_010)
