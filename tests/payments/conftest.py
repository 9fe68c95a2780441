"""A localstripe server for the payment tests, started once per run on a loopback port."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from portal.payments import set_stripe_payments, stripe_payments
from portal.payments.stripe_service import StripePayments

RUNNER = Path(__file__).with_name("localstripe_server.py")
WEBHOOK_SECRET = "whsec_test_payments_portal"


@contextlib.contextmanager
def running_localstripe() -> Iterator[str]:
    """A localstripe server on a free loopback port, stopped on exit; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, str(RUNNER)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        url = f"http://127.0.0.1:{int(process.stdout.readline())}"  # type: ignore[union-attr]
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{url}/js.stripe.com/v3/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    with running_localstripe() as url:
        yield url


@pytest.fixture
def stripe_service(app, localstripe_url) -> Iterator[StripePayments]:
    """The app's Stripe service, pointed at localstripe for this test."""
    service = StripePayments(
        secret_key="sk_test_portal",
        publishable_key="pk_test_portal",
        webhook_secret=WEBHOOK_SECRET,
        api_base=localstripe_url,
    )
    previous = stripe_payments(app)
    set_stripe_payments(app, service)
    try:
        yield service
    finally:
        set_stripe_payments(app, previous)


def signed_headers(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    """A Stripe-Signature header computed the way Stripe computes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


def event_body(event_id: str, event_type: str, stripe_object: dict) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": stripe_object},
        }
    ).encode()


@pytest.fixture
def unused_port_url() -> str:
    """A loopback URL nobody listens on (the port was free a moment ago)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """The reference operator, for tests that reach the operator (suspension, e2e)."""
    from tests.provisioning.helpers import start_sandbox

    running = start_sandbox(tmp_path_factory.mktemp("payments_sandbox") / "operator.sqlite3")
    yield running
    running.stop()
