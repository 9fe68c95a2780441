"""JSON endpoints the payment page's script calls around Stripe.js (CSRF token in a header)."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError

from portal.accounts.session import current_account, login_required
from portal.db import get_session
from portal.payments import access, checkout, events, stripe_payments
from portal.payments.stripe_service import (
    PAYMENT_METHOD_TYPES,
    PaymentDeclined,
    PaymentError,
    PaymentServiceUnavailable,
)
from portal.subscriptions.models import Order

log = logging.getLogger(__name__)

blueprint = Blueprint("checkout", __name__)


def _payable_order(order_id: int) -> Order:
    session = get_session()
    order = session.get(Order, order_id)
    if order is None or not access.can_pay_order(session, current_account(), order):
        abort(404)
    if stripe_payments() is None:
        abort(404)
    return order


def _error(message: str, status: int):
    return jsonify({"status": "error", "message": message}), status


def _unavailable():
    return _error(
        _(
            "Le service de paiement ne répond pas pour le moment. Votre commande est conservée : "
            "réessayez dans quelques minutes."
        ),
        503,
    )


def _outcome_response(order: Order, outcome: checkout.PaymentOutcome):
    body: dict[str, object] = {"status": outcome.status}
    if outcome.status in ("paid", "pending"):
        body["redirect"] = f"/commandes/{order.id}"
    elif outcome.status == "requires_action":
        body["client_secret"] = outcome.client_secret
    else:
        body["message"] = _(
            "Le paiement a été refusé%(reason)s. Votre commande est conservée : essayez une autre "
            "carte, un prélèvement ou le bon de commande.",
            reason=f" ({outcome.message})" if outcome.message else "",
        )
    return jsonify(body), 200


@blueprint.post("/commandes/<int:order_id>/paiement/intention")
@login_required
def setup_intent(order_id: int):
    order = _payable_order(order_id)
    method = (request.get_json(silent=True) or {}).get("method")
    if method not in PAYMENT_METHOD_TYPES:
        return _error(_("Choisissez la carte ou le prélèvement SEPA."), 400)
    session = get_session()
    try:
        setup = checkout.start_payment(session, stripe_payments(), order, method=method)
    except checkout.PaymentNotPossible:
        return _error(_("Cette commande n’attend plus de paiement."), 409)
    except PaymentServiceUnavailable:
        return _unavailable()
    session.commit()
    return jsonify({"client_secret": setup.client_secret, "method": setup.method})


@blueprint.post("/commandes/<int:order_id>/paiement/confirmer")
@login_required
def confirm(order_id: int):
    order = _payable_order(order_id)
    setup_intent_id = str((request.get_json(silent=True) or {}).get("setup_intent", ""))
    if not setup_intent_id.startswith("seti_"):
        return _error(_("Le moyen de paiement n’a pas été enregistré. Réessayez."), 400)
    session = get_session()
    try:
        try:
            outcome = checkout.complete_payment(
                session, stripe_payments(), order.id, setup_intent_id=setup_intent_id
            )
            session.commit()
        except OperationalError:
            # Another writer (often the webhook for this very payment) got there first:
            # read the order again; complete_payment sees what has changed.
            session.rollback()
            outcome = checkout.complete_payment(
                session, stripe_payments(), order.id, setup_intent_id=setup_intent_id
            )
    except checkout.PaymentNotPossible:
        session.rollback()
        return _error(_("Ce moyen de paiement ne correspond pas à cette commande."), 409)
    except PaymentServiceUnavailable:
        session.commit()  # keep what Stripe already knows (customer, subscription)
        return _unavailable()
    except PaymentDeclined as error:
        session.commit()
        return _outcome_response(order, checkout.PaymentOutcome("declined", message=str(error)))
    except PaymentError:
        session.rollback()
        log.exception("Stripe refused a payment request", extra={"order_id": order.id})
        return _error(
            _(
                "Le paiement n’a pas pu être enregistré. Réessayez ou choisissez le bon de commande."
            ),
            502,
        )
    session.commit()
    events.process_pending_events(session=session)  # webhooks that came before the link
    session.commit()
    return _outcome_response(order, outcome)


@blueprint.post("/commandes/<int:order_id>/paiement/verifier")
@login_required
def verify(order_id: int):
    order = _payable_order(order_id)
    session = get_session()
    try:
        outcome = checkout.refresh_payment(session, stripe_payments(), order.id)
    except checkout.PaymentNotPossible:
        session.rollback()
        return _error(_("Cette commande n’a pas encore de paiement à vérifier."), 409)
    except PaymentServiceUnavailable:
        session.rollback()
        return _unavailable()
    session.commit()
    return _outcome_response(order, outcome)
