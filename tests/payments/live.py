"""A live portal with Stripe pointed at a localstripe of its own, for browser tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from werkzeug.serving import make_server

from portal.app import create_app
from portal.config import Settings
from portal.payments.views import HANDLED_EVENTS
from tests.accounts.live import prepared_database
from tests.payments.conftest import WEBHOOK_SECRET, running_localstripe


@dataclass
class LivePortal:
    url: str
    app: object
    stripe_url: str


@contextlib.contextmanager
def live_paying_portal(directory: Path, name: str) -> Iterator[LivePortal]:
    """The portal served from a thread, jobs in a thread, Stripe calls going to localstripe."""
    with running_localstripe() as stripe_url:
        database_url = prepared_database(directory, name)
        # The port must be known before the app (PUBLIC_URL): bind first, then build the app.
        server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        settings = Settings(
            portal_env="test",
            database_url=database_url,
            instance_dir=directory,
            stripe_secret_key="sk_test_portal_live",
            stripe_publishable_key="pk_test_portal_live",
            stripe_webhook_secret=WEBHOOK_SECRET,
            stripe_api_base=stripe_url,
            public_url=url,
            job_runner="thread",
        ).with_overrides()
        app = create_app(settings)
        server.app = app
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        requests.post(
            f"{stripe_url}/_config/webhooks/portal",
            json={
                "url": f"{url}/webhooks/stripe",
                "secret": WEBHOOK_SECRET,
                "events": list(HANDLED_EVENTS),
            },
            timeout=5,
        ).raise_for_status()
        try:
            yield LivePortal(url=url, app=app, stripe_url=stripe_url)
        finally:
            server.shutdown()
            thread.join(5)
