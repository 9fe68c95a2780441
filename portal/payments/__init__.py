"""Payments: Stripe (card, SEPA Direct Debit), webhooks, purchase orders, refunds."""

from __future__ import annotations

from flask import Flask, current_app

from portal.payments.stripe_service import StripePayments

_EXTENSION = "portal_payments"


def init_app(app: Flask) -> None:
    from portal.payments import handlers  # noqa: F401  (registers the webhook handlers)
    from portal.payments.pages import blueprint as pages
    from portal.payments.views import webhooks

    settings = app.config["PORTAL_SETTINGS"]
    app.extensions[_EXTENSION] = StripePayments.from_settings(settings)
    app.register_blueprint(webhooks)
    app.register_blueprint(pages)


def stripe_payments(app: Flask | None = None) -> StripePayments | None:
    """The Stripe service of this app, or ``None`` without Stripe keys (purchase orders only)."""
    return (app or current_app).extensions.get(_EXTENSION)


def set_stripe_payments(app: Flask, service: StripePayments | None) -> None:
    """Swap the service (tests point it at their own Stripe test server)."""
    app.extensions[_EXTENSION] = service
