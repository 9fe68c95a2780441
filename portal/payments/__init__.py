"""Payments: Stripe (card, SEPA Direct Debit), webhooks, purchase orders, refunds."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app

from portal import security
from portal.payments.stripe_service import StripePayments

_EXTENSION = "portal_payments"
HOUSEKEEPING_EVERY_SECONDS = 300


def init_app(app: Flask) -> None:
    from portal.payments import checkout, handlers  # noqa: F401  (register the webhook handlers)
    from portal.payments.checkout_views import blueprint as checkout_pages
    from portal.payments.pages import blueprint as pages
    from portal.payments.views import webhooks

    settings = app.config["PORTAL_SETTINGS"]
    service = StripePayments.from_settings(settings)
    app.extensions[_EXTENSION] = service
    app.register_blueprint(webhooks)
    app.register_blueprint(pages)
    app.register_blueprint(checkout_pages)
    if service is not None:
        allow_stripe_in_pages(app, service)
    # Without Redis the web process runs the periodic work itself (with Redis: the scheduler).
    from portal.queue import run_periodically

    run_periodically(
        app,
        "portal.payments.jobs:payments_housekeeping",
        every=HOUSEKEEPING_EVERY_SECONDS,
        queue="provisioning",
    )


def allow_stripe_in_pages(app: Flask, service: StripePayments) -> None:
    """Let the payment page load Stripe.js and talk to Stripe (or to the test server)."""
    if service.api_base:
        parts = urlsplit(service.api_base)
        origins = {"script-src": [f"{parts.scheme}://{parts.netloc}"]}
        origins["connect-src"] = origins["frame-src"] = origins["script-src"]
    else:
        origins = {
            "script-src": ["https://js.stripe.com"],
            "connect-src": ["https://api.stripe.com"],
            "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
        }
    for directive, sources in origins.items():
        for source in sources:
            security.allow_source(app, directive, source)


def stripe_payments(app: Flask | None = None) -> StripePayments | None:
    """The Stripe service of this app, or ``None`` without Stripe keys (purchase orders only)."""
    return (app or current_app).extensions.get(_EXTENSION)


def set_stripe_payments(app: Flask, service: StripePayments | None) -> None:
    """Swap the service (tests point it at their own Stripe test server)."""
    app.extensions[_EXTENSION] = service
