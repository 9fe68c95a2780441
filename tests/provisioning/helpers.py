"""Builders for provisioning tests: a reference operator on a loopback port, orders."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlmodel import Session
from werkzeug.serving import make_server

from portal.catalogue.models import Offer, Operator
from portal.config import Settings
from portal.provisioning.registry import store_secrets
from portal.provisioning.sandbox import SandboxStore, create_sandbox_app
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderLine, OrderState
from tests.factories import make_account, make_offer, make_operator, make_professional

SANDBOX_TOKEN = "sandbox-test-token-0123456789"
SANDBOX_CALLBACK_SECRET = "sandbox-test-callback-secret"


@dataclass
class RunningSandbox:
    url: str  # base URL of the API, ending in /v1
    store: SandboxStore
    server: object
    thread: threading.Thread

    def faults(self, **switches) -> None:
        response = requests.put(
            self.url.removesuffix("/v1") + "/_sandbox/faults",
            json=switches,
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            timeout=5,
        )
        response.raise_for_status()

    def mailboxes(self, address: str | None = None) -> list[dict]:
        return [dict(row) for row in self.store.mailboxes(address)]

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


def start_sandbox(store_path: Path, *, callback_secret: str = SANDBOX_CALLBACK_SECRET):
    app = create_sandbox_app(
        store_path=store_path, token=SANDBOX_TOKEN, callback_secret=callback_secret
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return RunningSandbox(
        url=f"http://127.0.0.1:{server.server_port}/v1",
        store=app.extensions["sandbox_store"],
        server=server,
        thread=thread,
    )


def sandbox_operator(session: Session, settings: Settings, sandbox: RunningSandbox, **values):
    operator = make_operator(
        session,
        adapter_kind="mss-provisioning-v1",
        adapter_settings={"base_url": sandbox.url, "timeout_seconds": 2},
        **values,
    )
    store_secrets(operator, settings, token=SANDBOX_TOKEN, callback=SANDBOX_CALLBACK_SECRET)
    session.add(operator)
    session.flush()
    return operator


def make_order(
    session: Session,
    *,
    operator: Operator,
    offer: Offer | None = None,
    address: str | None = None,
    state: OrderState = OrderState.SUBMITTED,
    email: str | None = None,
):
    offer = offer or make_offer(session, operator=operator)
    professional = make_professional(session)
    account = make_account(
        session,
        professional_id=professional.id,
        display_name=f"{professional.first_name} {professional.last_name}",
        **({"email": email} if email else {}),
    )
    domain = operator.mail_domains[0]
    order = Order(
        idempotency_key=uuid.uuid4().hex,
        account_id=account.id,
        professional_id=professional.id,
        offer_revision_id=offer.current_revision_id,
    )
    session.add(order)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            mailbox_type="PER",
            address=address
            or f"{professional.first_name.lower()}.{professional.last_name.lower()}@{domain}",
        )
    )
    session.flush()
    if state != OrderState.DRAFT:
        states.transition(session, order, OrderState.SUBMITTED, actor=f"account:{account.id}")
    return order
