"""The portal's only door to Stripe.

:class:`StripePayments` wraps the official ``stripe`` client behind a small interface that the
order code uses: a Customer per payer, a SetupIntent to collect a card (with 3-D Secure) or a
SEPA Direct Debit mandate in the page, a server-side Subscription on a recurring Plan, refunds
and cancellation, and the verification of webhook signatures.

The same code talks to Stripe and to a Stripe test server such as localstripe (``STRIPE_API_BASE``).
That is why it sticks to the parts of the API both implement: Plans rather than Prices, the
subscription's payment method taken from the customer's
``invoice_settings.default_payment_method``, and no Checkout. Every answer is returned as plain
``dict`` data, so callers never depend on the client library's object model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from portal.config import Settings

log = logging.getLogger(__name__)

PAYMENT_METHOD_TYPES = ("card", "sepa_debit")
WEBHOOK_TOLERANCE_SECONDS = 300


class PaymentError(Exception):
    """Stripe refused a request; ``user_message`` is safe to show."""

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.code = code


class PaymentDeclined(PaymentError):
    """The bank declined the card or the debit: the payer may try another means."""


class PaymentServiceUnavailable(PaymentError):
    """Stripe could not be reached (network, outage, rate limit): the order waits, nothing is lost."""


class WebhookSignatureInvalid(Exception):
    """A webhook whose signature does not match the raw body and the secret."""


@dataclass(frozen=True)
class SetupSession:
    """What the page needs to collect a payment method with Stripe.js."""

    setup_intent_id: str
    client_secret: str
    customer_id: str
    method: str  # card | sepa_debit


class StripePayments:
    """Calls to Stripe (or to a Stripe test server at ``api_base``) for the portal's orders."""

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str | None = None,
        api_base: str | None = None,
        timeout_seconds: float = 20,
    ):
        base_addresses = {"api": api_base.rstrip("/")} if api_base else None
        self.publishable_key = publishable_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripePayments | None:
        """The service, or ``None`` when no Stripe keys are configured (purchase orders only)."""
        if not settings.stripe_enabled:
            return None
        return cls(
            secret_key=settings.stripe_secret_key or "",
            publishable_key=settings.stripe_publishable_key or "",
            webhook_secret=settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base,
        )

    @property
    def stripe_js_url(self) -> str:
        """Stripe.js, or the test server's replacement of it when ``api_base`` is set."""
        if self.api_base:
            return f"{self.api_base.rstrip('/')}/js.stripe.com/v3/"
        return "https://js.stripe.com/v3/"

    # Customers and payment methods ------------------------------------------------------

    def ensure_customer(
        self,
        *,
        customer_id: str | None,
        email: str | None,
        name: str,
        metadata: Mapping[str, str],
    ) -> str:
        """The payer's Customer id: ``customer_id`` when it still exists, else a new Customer."""
        if customer_id:
            try:
                existing = self._call(self._client.v1.customers.retrieve, customer_id)
                if not existing.get("deleted"):
                    return customer_id
            except PaymentError as error:
                if error.code != "resource_missing":
                    raise
        params: dict[str, Any] = {"name": name[:256], "metadata": dict(metadata)}
        if email:
            params["email"] = email
        return self._call(self._client.v1.customers.create, params=params)["id"]

    def create_setup_intent(
        self, *, customer_id: str, method: str, metadata: Mapping[str, str]
    ) -> SetupSession:
        """A SetupIntent the page confirms with Stripe.js (3-D Secure or SEPA mandate)."""
        if method not in PAYMENT_METHOD_TYPES:
            raise ValueError(f"unknown payment method type {method!r}")
        intent = self._call(
            self._client.v1.setup_intents.create,
            params={
                "customer": customer_id,
                "payment_method_types": [method],
                "usage": "off_session",
                "metadata": dict(metadata),
            },
        )
        return SetupSession(
            setup_intent_id=intent["id"],
            client_secret=intent["client_secret"],
            customer_id=customer_id,
            method=method,
        )

    def retrieve_setup_intent(self, setup_intent_id: str) -> dict:
        return self._call(self._client.v1.setup_intents.retrieve, setup_intent_id)

    def set_default_payment_method(self, *, customer_id: str, payment_method_id: str) -> None:
        """Subscriptions are paid with the customer's default payment method."""
        self._call(
            self._client.v1.customers.update,
            customer_id,
            params={"invoice_settings": {"default_payment_method": payment_method_id}},
        )

    def retrieve_payment_method(self, payment_method_id: str) -> dict:
        return self._call(self._client.v1.payment_methods.retrieve, payment_method_id)

    # Plans and subscriptions ------------------------------------------------------------

    def ensure_plan(
        self,
        *,
        plan_id: str,
        amount_cents: int,
        currency: str,
        interval: str,
        product_name: str,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """A recurring Plan with this id, created on first use (ids name the exact terms)."""
        try:
            plan = self._call(self._client.v1.plans.retrieve, plan_id)
        except PaymentError as error:
            if error.code != "resource_missing":
                raise
        else:
            if plan["amount"] != amount_cents or plan["interval"] != interval:
                raise PaymentError(f"plan {plan_id} exists with other terms", code="plan_mismatch")
            return plan_id
        params = {
            "id": plan_id,
            "amount": amount_cents,
            "currency": currency.lower(),
            "interval": interval,
            "product": {"name": product_name[:250]},
            "metadata": dict(metadata or {}),
        }
        try:
            self._call(self._client.v1.plans.create, params=params)
        except PaymentError:
            # Another process may have created it in the meantime: that one is as good.
            self._call(self._client.v1.plans.retrieve, plan_id)
        return plan_id

    def add_one_off_charge(
        self, *, customer_id: str, amount_cents: int, currency: str, description: str
    ) -> str:
        """A pending invoice item (setup fee), billed with the subscription's first invoice."""
        item = self._call(
            self._client.v1.invoice_items.create,
            params={
                "customer": customer_id,
                "amount": amount_cents,
                "currency": currency.lower(),
                "description": description[:500],
            },
        )
        return item["id"]

    def create_subscription(
        self,
        *,
        customer_id: str,
        plan_id: str,
        quantity: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> dict:
        """A Subscription charged to the customer's default payment method.

        The answer has ``latest_invoice`` expanded, so the caller sees at once whether the first
        invoice is paid (cards) or still processing (SEPA debits confirm days later).
        """
        return self._call(
            self._client.v1.subscriptions.create,
            params={
                "customer": customer_id,
                "items": [{"plan": plan_id, "quantity": quantity}],
                "metadata": dict(metadata),
                "payment_behavior": "allow_incomplete",
                "expand": ["latest_invoice"],
            },
            options={"idempotency_key": idempotency_key},
        )

    def continue_at_full_price(
        self,
        *,
        subscription_id: str,
        plan_id: str,
        quantity: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> dict:
        """Bill ``plan_id`` from the end of the subscription's current period, nothing prorated.

        A new subscription of the same customer starts then (a trial until that date, so
        nothing is charged before) and the current one ends then. Both steps are found again
        when repeated: the new subscription names the one it follows in its metadata.
        """
        current = self.retrieve_subscription(subscription_id)
        customer = _id_of(current.get("customer"))
        follows = self._call(
            self._client.v1.subscriptions.list, params={"customer": customer, "status": "all"}
        )
        successor = next(
            (
                candidate
                for candidate in follows.get("data", [])
                if (candidate.get("metadata") or {}).get("follows") == subscription_id
            ),
            None,
        )
        if successor is None:
            successor = self._call(
                self._client.v1.subscriptions.create,
                params={
                    "customer": customer,
                    "items": [{"plan": plan_id, "quantity": quantity}],
                    "metadata": {**dict(metadata), "follows": subscription_id},
                    "trial_end": period_end(current),
                    "proration_behavior": "none",
                    "payment_behavior": "allow_incomplete",
                },
                options={"idempotency_key": idempotency_key},
            )
        if not current.get("cancel_at_period_end"):
            self._call(
                self._client.v1.subscriptions.update,
                subscription_id,
                params={"cancel_at_period_end": True},
            )
        return successor

    def retrieve_subscription(self, subscription_id: str) -> dict:
        return self._call(
            self._client.v1.subscriptions.retrieve,
            subscription_id,
            params={"expand": ["latest_invoice"]},
        )

    def find_subscription_for(self, *, customer_id: str, order_id: int) -> str | None:
        """The customer's subscription created for ``order_id`` (its metadata says so), if any."""
        subscriptions = self._call(
            self._client.v1.subscriptions.list, params={"customer": customer_id, "status": "all"}
        )
        for subscription in subscriptions.get("data", []):
            if (subscription.get("metadata") or {}).get("order_id") == str(order_id):
                return subscription["id"]
        return None

    def retrieve_invoice(self, invoice_id: str) -> dict:
        return self._call(self._client.v1.invoices.retrieve, invoice_id)

    def invoice_payment(self, invoice: Mapping[str, Any]) -> dict | None:
        """The PaymentIntent of an invoice (status, and the client secret for 3-D Secure)."""
        payment_intent = _payment_intent_of(invoice) or self._payment_intent_from_invoice_payments(
            invoice.get("id"), paid_only=False
        )
        if payment_intent is None:
            return None
        return self._call(self._client.v1.payment_intents.retrieve, payment_intent)

    def pay_invoice(self, invoice_id: str) -> dict:
        """Try an open invoice again (after the payer gave another payment method)."""
        return self._call(self._client.v1.invoices.pay, invoice_id)

    def cancel_subscription(self, subscription_id: str) -> dict:
        """Stop the subscription now; nothing more is charged. Cancelling twice is harmless."""
        try:
            return self._call(self._client.v1.subscriptions.cancel, subscription_id)
        except PaymentError as error:
            if error.code in ("resource_missing", "already_canceled"):
                return {"id": subscription_id, "status": "canceled"}
            raise

    # Refunds ------------------------------------------------------------------------------

    def refund_invoice(self, invoice: Mapping[str, Any], *, idempotency_key: str) -> list[dict]:
        """Refund whatever was paid on ``invoice``; returns the refunds (existing ones included).

        A payment already refunded is not refunded twice: Stripe's idempotency key covers a
        retried request, and the refunds listed on the payment cover a later call.
        """
        payment_intent = _payment_intent_of(invoice)
        if payment_intent is None:
            payment_intent = self._payment_intent_from_invoice_payments(invoice.get("id"))
        if payment_intent is None:
            return []
        existing = self._call(
            self._client.v1.refunds.list, params={"payment_intent": payment_intent}
        )["data"]
        if existing:
            return existing
        refund = self._call(
            self._client.v1.refunds.create,
            params={"payment_intent": payment_intent, "metadata": {"reason": "not_provisioned"}},
            options={"idempotency_key": idempotency_key},
        )
        return [refund]

    def list_refunds(self, *, payment_intent: str) -> list[dict]:
        return self._call(self._client.v1.refunds.list, params={"payment_intent": payment_intent})[
            "data"
        ]

    def _payment_intent_from_invoice_payments(
        self, invoice_id: str | None, *, paid_only: bool = True
    ) -> str | None:
        # Recent API versions moved the invoice's payment intent to the invoice payments list.
        if not invoice_id or not hasattr(self._client.v1, "invoice_payments"):
            return None
        try:
            payments = self._call(
                self._client.v1.invoice_payments.list, params={"invoice": invoice_id}
            )
        except PaymentError:
            return None
        for payment in payments.get("data", []):
            details = payment.get("payment") or {}
            if details.get("payment_intent") and (not paid_only or payment.get("status") == "paid"):
                return _id_of(details["payment_intent"])
        return None

    # Webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict:
        """The event in a webhook body, after checking its signature against the raw body."""
        if not self.webhook_secret:
            raise WebhookSignatureInvalid("STRIPE_WEBHOOK_SECRET is not set")
        return verify_webhook(payload, signature_header, self.webhook_secret)

    # Plumbing -----------------------------------------------------------------------------

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict:
        try:
            result = method(*args, **kwargs)
        except stripe.CardError as error:
            raise PaymentDeclined(_message(error), code=error.code) from error
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            log.warning("Stripe unreachable: %s", error.__class__.__name__)
            raise PaymentServiceUnavailable(_message(error), code="unreachable") from error
        except stripe.APIError as error:
            if (error.http_status or 500) >= 500:
                raise PaymentServiceUnavailable(_message(error), code="unavailable") from error
            raise PaymentError(_message(error), code=error.code) from error
        except stripe.StripeError as error:
            code = error.code
            if error.http_status == 404 and code is None:
                code = "resource_missing"
            if error.http_status == 402:
                raise PaymentDeclined(_message(error), code=code or "card_declined") from error
            raise PaymentError(_message(error), code=code) from error
        return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def verify_webhook(payload: bytes, signature_header: str | None, secret: str) -> dict:
    """Check a ``Stripe-Signature`` header against the raw body, then parse the event."""
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature_header or "", secret, WEBHOOK_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
        raise WebhookSignatureInvalid(str(error)) from error
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise WebhookSignatureInvalid("the body is not JSON") from error
    if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_"):
        raise WebhookSignatureInvalid("the body is not a Stripe event")
    return event


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return value.get("id")
    return None


def _payment_intent_of(invoice: Mapping[str, Any]) -> str | None:
    return _id_of(invoice.get("payment_intent"))


def period_end(subscription: Mapping[str, Any]) -> int | None:
    """When the subscription's current period ends (Unix time), in both API shapes (newer
    versions keep it on the subscription's items)."""
    if subscription.get("current_period_end"):
        return int(subscription["current_period_end"])
    items = (subscription.get("items") or {}).get("data") or []
    ends = [item.get("current_period_end") for item in items if item.get("current_period_end")]
    return int(min(ends)) if ends else None


def subscription_of_invoice(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills, in both the older and the newer API shapes."""
    direct = _id_of(invoice.get("subscription"))
    if direct:
        return direct
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return _id_of(details.get("subscription"))


def _message(error: stripe.StripeError) -> str:
    return error.user_message or str(error) or error.__class__.__name__
