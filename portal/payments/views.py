"""Stripe webhooks. Authenticated by their signature, so exempt from CSRF."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import OperationalError

from portal.db import get_session
from portal.extensions import csrf
from portal.payments import events, stripe_payments
from portal.payments.stripe_service import WebhookSignatureInvalid, verify_webhook

log = logging.getLogger(__name__)

webhooks = Blueprint("payment_webhooks", __name__)
WRITE_ATTEMPTS = 8
# The events the portal acts on; a Stripe endpoint needs no others.
HANDLED_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
)
csrf.exempt(webhooks)


@webhooks.post("/webhooks/stripe")
def stripe_webhook():
    payload = request.get_data(cache=False)  # the raw body: the signature covers these bytes
    secret = _webhook_secret()
    if not secret:
        log.warning("Stripe webhook refused: STRIPE_WEBHOOK_SECRET is not set")
        return jsonify({"error": "webhooks are not configured"}), 400
    try:
        event = verify_webhook(payload, request.headers.get("Stripe-Signature"), secret)
    except WebhookSignatureInvalid:
        log.warning("Stripe webhook refused: bad signature")
        return jsonify({"error": "invalid signature"}), 400
    session = get_session()
    for attempt in range(WRITE_ATTEMPTS):
        try:
            row, first = events.record_event(session=session, event=event)
            applied = events.process_event(session=session, payment_event=row)
            session.commit()
            if applied and row.order_id is not None:
                # An event that linked an order may unblock events that arrived before it.
                events.process_pending_events(session=session)
                session.commit()
            break
        except OperationalError:
            # A write conflict (SQLite allows one writer; PostgreSQL may report a deadlock):
            # nothing was kept, so the whole delivery can be handled again.
            session.rollback()
            time.sleep(0.05 * (attempt + 1))
    else:
        log.warning("Stripe webhook not applied: the database stayed busy")
        return jsonify({"error": "busy, retry later"}), 503  # Stripe delivers it again later
    return jsonify({"received": True, "duplicate": not first, "applied": applied}), 200


def _webhook_secret() -> str | None:
    service = stripe_payments()
    if service is not None and service.webhook_secret:
        return service.webhook_secret
    return current_app.config["PORTAL_SETTINGS"].stripe_webhook_secret
