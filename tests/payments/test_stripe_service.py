"""The Stripe service against localstripe: the same calls the portal makes against Stripe."""

from __future__ import annotations

import time

import pytest
import requests

from portal.payments.stripe_service import (
    PaymentDeclined,
    PaymentServiceUnavailable,
    StripePayments,
    subscription_of_invoice,
)


def confirm_like_stripe_js(
    service: StripePayments, setup_intent_id: str, method_data: dict
) -> dict:
    """What Stripe.js does in the page: confirm the SetupIntent with the payment details."""
    return service._call(
        service._client.v1.setup_intents.confirm,
        setup_intent_id,
        params={"payment_method_data": method_data},
    )


CARD = {
    "type": "card",
    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
}
CARD_3DS = {
    "type": "card",
    "card": {"number": "4000002760003184", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
}
IBAN = {
    "type": "sepa_debit",
    "sepa_debit": {"iban": "FR1420041010050500013M02606"},
    "billing_details": {"name": "Marie Durand", "email": "marie@example.org"},
}


def test_customer_is_created_once_and_reused(stripe_service):
    first = stripe_service.ensure_customer(
        customer_id=None, email="a@example.org", name="A", metadata={"account_id": "1"}
    )
    again = stripe_service.ensure_customer(
        customer_id=first, email="a@example.org", name="A", metadata={}
    )
    assert again == first
    replaced = stripe_service.ensure_customer(
        customer_id="cus_gone", email=None, name="A", metadata={}
    )
    assert replaced.startswith("cus_") and replaced != first


def test_card_payment_with_3d_secure(stripe_service, localstripe_url):
    customer = stripe_service.ensure_customer(
        customer_id=None, email="b@example.org", name="B", metadata={}
    )
    setup = stripe_service.create_setup_intent(
        customer_id=customer, method="card", metadata={"order_id": "1"}
    )
    assert setup.client_secret.startswith(setup.setup_intent_id)
    intent = confirm_like_stripe_js(stripe_service, setup.setup_intent_id, CARD_3DS)
    assert intent["status"] == "requires_action"  # the bank asks for 3-D Secure
    # The payer completes the authentication: Stripe.js confirms the SetupIntent again.
    intent = stripe_service._call(
        stripe_service._client.v1.setup_intents.confirm, setup.setup_intent_id
    )
    assert intent["status"] == "succeeded"
    stripe_service.set_default_payment_method(
        customer_id=customer, payment_method_id=intent["payment_method"]
    )
    plan = stripe_service.ensure_plan(
        plan_id="test-plan-1440-month",
        amount_cents=1440,
        currency="EUR",
        interval="month",
        product_name="Offre test",
    )
    assert (
        stripe_service.ensure_plan(
            plan_id=plan,
            amount_cents=1440,
            currency="EUR",
            interval="month",
            product_name="Offre test",
        )
        == plan
    )
    subscription = stripe_service.create_subscription(
        customer_id=customer,
        plan_id=plan,
        quantity=3,
        metadata={"order_id": "1"},
        idempotency_key="order-1-subscription",
    )
    # This test card asks for authentication on every payment, the first invoice included.
    assert subscription["status"] == "incomplete"
    invoice = subscription["latest_invoice"]
    assert subscription_of_invoice(invoice) == subscription["id"]
    payment = stripe_service.invoice_payment(invoice)
    assert payment["status"] == "requires_action"
    response = requests.post(
        f"{localstripe_url}/v1/payment_intents/{payment['id']}/_authenticate?success=true",
        json={"key": "pk_test_portal", "client_secret": payment["client_secret"]},
        timeout=5,
    )
    assert response.status_code == 200
    invoice = stripe_service.retrieve_invoice(invoice["id"])
    assert invoice["status"] == "paid"
    assert invoice["amount_paid"] == 3 * 1440
    assert stripe_service.retrieve_subscription(subscription["id"])["status"] == "active"


def test_card_without_authentication_pays_at_once(stripe_service):
    customer = stripe_service.ensure_customer(customer_id=None, email=None, name="F", metadata={})
    setup = stripe_service.create_setup_intent(customer_id=customer, method="card", metadata={})
    intent = confirm_like_stripe_js(stripe_service, setup.setup_intent_id, CARD)
    stripe_service.set_default_payment_method(
        customer_id=customer, payment_method_id=intent["payment_method"]
    )
    plan = stripe_service.ensure_plan(
        plan_id="test-plan-900-month",
        amount_cents=900,
        currency="EUR",
        interval="month",
        product_name="Offre test",
    )
    subscription = stripe_service.create_subscription(
        customer_id=customer, plan_id=plan, quantity=1, metadata={}, idempotency_key="k-f"
    )
    assert subscription["status"] == "active"
    assert subscription["latest_invoice"]["status"] == "paid"


def test_sepa_debit_refund_is_visible_at_the_server(stripe_service):
    customer = stripe_service.ensure_customer(
        customer_id=None, email="c@example.org", name="C", metadata={}
    )
    setup = stripe_service.create_setup_intent(
        customer_id=customer, method="sepa_debit", metadata={}
    )
    intent = confirm_like_stripe_js(stripe_service, setup.setup_intent_id, IBAN)
    assert intent["status"] == "succeeded"
    method = stripe_service.retrieve_payment_method(intent["payment_method"])
    assert method["type"] == "sepa_debit" and method["sepa_debit"]["last4"] == "2606"
    stripe_service.set_default_payment_method(customer_id=customer, payment_method_id=method["id"])
    plan = stripe_service.ensure_plan(
        plan_id="test-plan-1200-year",
        amount_cents=1200,
        currency="EUR",
        interval="year",
        product_name="Offre test",
    )
    stripe_service.add_one_off_charge(
        customer_id=customer, amount_cents=500, currency="EUR", description="Setup fee"
    )
    subscription = stripe_service.create_subscription(
        customer_id=customer,
        plan_id=plan,
        quantity=1,
        metadata={},
        idempotency_key="order-2-subscription",
    )
    time.sleep(0.8)  # the debit settles asynchronously
    invoice = stripe_service.retrieve_invoice(subscription["latest_invoice"]["id"])
    assert invoice["amount_paid"] == 1700  # setup fee + first year
    refunds = stripe_service.refund_invoice(invoice, idempotency_key="order-2-refund")
    assert [refund["amount"] for refund in refunds] == [1700]
    # Refunding again returns the same refund rather than a second one.
    again = stripe_service.refund_invoice(invoice, idempotency_key="order-2-refund-again")
    assert [refund["id"] for refund in again] == [refunds[0]["id"]]
    assert [
        r["id"] for r in stripe_service.list_refunds(payment_intent=invoice["payment_intent"])
    ] == [refunds[0]["id"]]
    assert stripe_service.cancel_subscription(subscription["id"])["status"] == "canceled"


def test_declined_card_is_reported_as_declined(stripe_service):
    customer = stripe_service.ensure_customer(customer_id=None, email=None, name="D", metadata={})
    setup = stripe_service.create_setup_intent(customer_id=customer, method="card", metadata={})
    declined = dict(CARD, card=dict(CARD["card"], number="4000000000000002"))
    with pytest.raises(PaymentDeclined):
        confirm_like_stripe_js(stripe_service, setup.setup_intent_id, declined)


def test_unreachable_stripe_is_reported_as_unavailable(unused_port_url):
    service = StripePayments(
        secret_key="sk_test_x",
        publishable_key="pk_test_x",
        api_base=unused_port_url,
        timeout_seconds=2,
    )
    with pytest.raises(PaymentServiceUnavailable):
        service.ensure_customer(customer_id=None, email=None, name="E", metadata={})


def test_stripe_js_comes_from_the_test_server_when_one_is_configured(
    stripe_service, localstripe_url
):
    assert stripe_service.stripe_js_url == f"{localstripe_url}/js.stripe.com/v3/"
    assert (
        StripePayments(secret_key="sk_live_x", publishable_key="pk_live_x").stripe_js_url
        == "https://js.stripe.com/v3/"
    )
