"""Paying an order through Stripe (localstripe), and what the webhooks then do to it."""

from __future__ import annotations

import json
import time

import requests
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Account
from portal.catalogue.models import Offer, OfferRevision
from portal.db import utcnow
from portal.mail.models import OutboxMessage
from portal.payments import checkout, set_stripe_payments
from portal.payments.stripe_service import StripePayments
from portal.subscriptions import states
from portal.subscriptions.models import (
    Mailbox,
    Order,
    OrderEvent,
    OrderLine,
    OrderState,
    PaymentMethod,
)
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer
from tests.payments.conftest import signed_headers
from tests.payments.helpers import make_order

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
CARD_DECLINED_AT_CHARGE = dict(CARD, number="4000000000000341")
IBAN_OK = "FR1420041010050500013M02606"
IBAN_FAILS = "DE62370400440532013001"


def paid_offer_order(db_session, *, price=1000, setup_fee=0, mailboxes=1):
    offer = make_offer(db_session, price_cents=price)
    db_session.get(OfferRevision, offer.current_revision_id).setup_fee_cents = setup_fee
    order = make_order(db_session, offer=offer, total_cents=price * mailboxes * 12 // 10)
    for position in range(1, mailboxes + 1):
        db_session.add(
            OrderLine(
                order_id=order.id,
                position=position,
                mailbox_type="PER",
                address=f"p{position}-{order.id}@test.mssante.fr",
            )
        )
    db_session.commit()
    return order


def outbox(db_session, key_prefix):
    return db_session.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key.startswith(key_prefix))
    ).all()


def csrf(client, order) -> str:
    html = BeautifulSoup(
        client.get(f"/commandes/{order.id}/paiement").get_data(as_text=True), "html.parser"
    )
    return html.find(id="paiement-en-ligne")["data-csrf-token"]


def post_json(client, url, token, body=None):
    return client.post(url, json=body or {}, headers={"X-CSRFToken": token})


def pay_in_page(client, service, order, method_data, *, method="card"):
    """What the payment page's script does, with Stripe.js's confirmation done server-side."""
    token = csrf(client, order)
    intent = post_json(
        client, f"/commandes/{order.id}/paiement/intention", token, {"method": method}
    )
    assert intent.status_code == 200, intent.get_json()
    setup_id = intent.get_json()["client_secret"].split("_secret_")[0]
    service._call(
        service._client.v1.setup_intents.confirm,
        setup_id,
        params={"payment_method_data": method_data},
    )
    return post_json(
        client, f"/commandes/{order.id}/paiement/confirmer", token, {"setup_intent": setup_id}
    )


def signed_in(client, db_session, order):
    sign_in_client(client, db_session.get(Account, order.account_id))


def state_of(db_session, order) -> str:
    db_session.expire_all()
    return db_session.get(Order, order.id).state


def stripe_events(localstripe_url, event_type, subscription_id, wait=3.0):
    """Events localstripe emitted for a subscription (it also posts them to registered URLs)."""
    deadline = time.monotonic() + wait
    while True:
        response = requests.get(
            f"{localstripe_url}/v1/events",
            params={"type": event_type},
            headers={"Authorization": "Bearer sk_test_portal"},
            timeout=5,
        )
        found = [
            event
            for event in response.json()["data"]
            if event["data"]["object"].get("subscription") == subscription_id
            or event["data"]["object"].get("id") == subscription_id
        ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def deliver(client, event) -> dict:
    body = json.dumps(event).encode()
    response = client.post("/webhooks/stripe", data=body, headers=signed_headers(body))
    assert response.status_code == 200
    return response.get_json()


def subscribe_at_stripe(db_session, stripe_service, order, *, key):
    """A card customer and a subscription for ``order`` made at Stripe directly, as the portal
    would, but without the portal hearing the answers: (customer id, subscription)."""
    customer = stripe_service.ensure_customer(customer_id=None, email=None, name="X", metadata={})
    setup = stripe_service.create_setup_intent(customer_id=customer, method="card", metadata={})
    intent = stripe_service._call(
        stripe_service._client.v1.setup_intents.confirm,
        setup.setup_intent_id,
        params={"payment_method_data": {"type": "card", "card": CARD}},
    )
    stripe_service.set_default_payment_method(
        customer_id=customer, payment_method_id=intent["payment_method"]
    )
    terms = checkout.recurring_terms(db_session, order)
    stripe_service.ensure_plan(
        plan_id=terms.plan_id,
        amount_cents=terms.unit_amount_cents,
        currency="EUR",
        interval="month",
        product_name="x",
    )
    subscription = stripe_service.create_subscription(
        customer_id=customer,
        plan_id=terms.plan_id,
        quantity=1,
        metadata={"order_id": str(order.id)},
        idempotency_key=key,
    )
    return customer, subscription


def refuse_then_refund(app, db_session, stripe_service, order):
    """The operator refuses the paid order for good, and the portal cancels and refunds it."""
    states.transition(
        db_session,
        states.lock_order(db_session, order.id),
        OrderState.NEEDS_ATTENTION,
        actor="system",
        reason="Address refused by the operator",
    )
    db_session.commit()
    with app.app_context():
        checkout.cancel_and_refund(
            db_session,
            stripe_service,
            order.id,
            actor="system",
            reason="Provisioning failed for good",
        )
        db_session.commit()


def test_card_payment_moves_the_order_to_provisioning(client, db_session, stripe_service):
    order = paid_offer_order(db_session, price=1000, setup_fee=500, mailboxes=2)
    signed_in(client, db_session, order)
    response = pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD})
    assert response.get_json() == {"status": "paid", "redirect": f"/commandes/{order.id}"}
    stored = db_session.get(Order, order.id)
    assert stored.state == OrderState.PROVISIONING
    assert stored.payment_method == PaymentMethod.CARD
    invoice = stripe_service.retrieve_subscription(stored.stripe_subscription_id)["latest_invoice"]
    assert invoice["amount_paid"] == 2 * 1200 + 2 * 600  # two mailboxes + setup fees, VAT included
    path = [e.to_state for e in states.events_of(db_session, order.id)]
    assert path[-2:] == [OrderState.PAID, OrderState.PROVISIONING]


def test_declined_card_keeps_the_order_and_another_card_pays_it(client, db_session, stripe_service):
    order = paid_offer_order(db_session)
    signed_in(client, db_session, order)
    declined = pay_in_page(
        client, stripe_service, order, {"type": "card", "card": CARD_DECLINED_AT_CHARGE}
    )
    body = declined.get_json()
    assert body["status"] == "declined" and "refusé" in body["message"]
    assert state_of(db_session, order) == OrderState.AWAITING_PAYMENT
    again = pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD})
    assert again.get_json()["status"] == "paid"
    assert state_of(db_session, order) == OrderState.PROVISIONING


def test_sepa_debit_waits_for_the_bank_then_the_webhook_pays(
    client, db_session, stripe_service, localstripe_url
):
    order = paid_offer_order(db_session)
    signed_in(client, db_session, order)
    iban = {
        "type": "sepa_debit",
        "sepa_debit": {"iban": IBAN_OK},
        "billing_details": {"name": "Marie Durand", "email": "m@example.org"},
    }
    response = pay_in_page(client, stripe_service, order, iban, method="sepa_debit")
    assert response.get_json()["status"] == "pending"
    assert state_of(db_session, order) == OrderState.PAYMENT_PENDING
    subscription_id = db_session.get(Order, order.id).stripe_subscription_id
    [event] = stripe_events(localstripe_url, "invoice.payment_succeeded", subscription_id)
    for _ in range(10):  # Stripe may deliver the same event again: one effect only
        deliver(client, event)
    assert state_of(db_session, order) == OrderState.PROVISIONING
    paid = db_session.exec(
        select(OrderEvent).where(
            OrderEvent.order_id == order.id, OrderEvent.to_state == OrderState.PAID
        )
    ).all()
    assert len(paid) == 1


def test_failed_debit_tells_the_payer_who_may_try_again(
    client, db_session, stripe_service, localstripe_url
):
    order = paid_offer_order(db_session)
    signed_in(client, db_session, order)
    iban = {
        "type": "sepa_debit",
        "sepa_debit": {"iban": IBAN_FAILS},
        "billing_details": {"name": "Marie Durand", "email": "m@example.org"},
    }
    pay_in_page(client, stripe_service, order, iban, method="sepa_debit")
    subscription_id = db_session.get(Order, order.id).stripe_subscription_id
    [failed] = stripe_events(localstripe_url, "invoice.payment_failed", subscription_id)
    [deleted] = stripe_events(localstripe_url, "customer.subscription.deleted", subscription_id)
    deliver(client, deleted)  # out of order: the deletion before the failure
    deliver(client, failed)
    stored = db_session.get(Order, order.id)
    assert stored.state == OrderState.AWAITING_PAYMENT
    page = BeautifulSoup(
        client.get(f"/commandes/{order.id}/paiement").get_data(as_text=True), "html.parser"
    )
    assert "Le dernier paiement a échoué" in page.get_text()
    again = pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD})
    assert again.get_json()["status"] == "paid"


def test_payment_success_before_the_subscription_is_known(
    client, db_session, stripe_service, localstripe_url
):
    """Out of order: invoice.payment_succeeded arrives before anything links it to the order."""
    order = paid_offer_order(db_session)
    _customer, subscription = subscribe_at_stripe(db_session, stripe_service, order, key="ooo")
    [paid] = stripe_events(localstripe_url, "invoice.payment_succeeded", subscription["id"])
    [created] = stripe_events(localstripe_url, "customer.subscription.created", subscription["id"])
    assert deliver(client, paid)["applied"] is False  # kept, waiting for its order
    assert state_of(db_session, order) == OrderState.AWAITING_PAYMENT
    deliver(client, created)
    assert state_of(db_session, order) == OrderState.PROVISIONING


def test_permanent_provisioning_failure_after_payment_ends_refunded(
    app, client, db_session, stripe_service
):
    order = paid_offer_order(db_session, price=2000)
    signed_in(client, db_session, order)
    assert (
        pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD}).get_json()[
            "status"
        ]
        == "paid"
    )
    refuse_then_refund(app, db_session, stripe_service, order)
    stored = db_session.get(Order, order.id)
    assert stored.state == OrderState.REFUNDED
    subscription = stripe_service.retrieve_subscription(stored.stripe_subscription_id)
    assert subscription["status"] == "canceled"
    refunds = stripe_service.list_refunds(
        payment_intent=subscription["latest_invoice"]["payment_intent"]
    )
    assert [r["amount"] for r in refunds] == [2400]
    [mail] = outbox(db_session, f"order-refunded:{order.id}")
    assert "remboursée" in mail.subject and "24,00" in mail.body_text
    assert "Address refused by the operator" in mail.body_text
    # Doing it again refunds nothing more.
    with app.app_context():
        checkout.cancel_and_refund(
            db_session, stripe_service, order.id, actor="system", reason="again"
        )
    assert (
        len(
            stripe_service.list_refunds(
                payment_intent=subscription["latest_invoice"]["payment_intent"]
            )
        )
        == 1
    )


def test_a_payer_without_an_account_address_is_written_to_at_the_order_contact(
    app, client, db_session, stripe_service
):
    """People signed in with Pro Santé Connect have no account e-mail; they give one with the
    order, and Stripe's receipts and the portal's payment e-mails go there."""
    account = make_account(db_session, email=None, display_name="Marie Durand")
    order = make_order(
        db_session,
        account=account,
        offer=make_offer(db_session, price_cents=1500),
        total_cents=1800,
        contact_email="marie.durand@example.org",
    )
    db_session.add(
        OrderLine(order_id=order.id, mailbox_type="PER", address=f"m-{order.id}@test.mssante.fr")
    )
    db_session.commit()
    signed_in(client, db_session, order)
    paid = pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD})
    assert paid.get_json()["status"] == "paid"
    stored = db_session.get(Order, order.id)
    customer = stripe_service._call(
        stripe_service._client.v1.customers.retrieve, stored.stripe_customer_id
    )
    assert customer["email"] == "marie.durand@example.org"
    refuse_then_refund(app, db_session, stripe_service, order)
    [mail] = outbox(db_session, f"order-refunded:{order.id}")
    assert mail.to_address == "marie.durand@example.org"
    assert "remboursée" in mail.subject


def test_subscription_deleted_terminates_an_active_order(client, db_session, stripe_service):
    order = make_order(db_session, state=OrderState.ACTIVE, stripe_subscription_id="sub_gone_1")
    db_session.commit()
    deliver(
        client,
        {
            "id": "evt_deleted_1",
            "object": "event",
            "type": "customer.subscription.deleted",
            "created": int(time.time()),
            "data": {
                "object": {"id": "sub_gone_1", "object": "subscription", "status": "canceled"}
            },
        },
    )
    assert state_of(db_session, order) == OrderState.TERMINATING


def test_unreachable_stripe_keeps_the_order_and_says_so(
    app, client, db_session, stripe_service, unused_port_url
):
    order = paid_offer_order(db_session)
    signed_in(client, db_session, order)
    token = csrf(client, order)
    set_stripe_payments(
        app,
        StripePayments(
            secret_key="sk_test_x",
            publishable_key="pk_test_x",
            api_base=unused_port_url,
            timeout_seconds=2,
        ),
    )
    response = post_json(
        client, f"/commandes/{order.id}/paiement/intention", token, {"method": "card"}
    )
    assert response.status_code == 503
    assert "ne répond pas" in response.get_json()["message"]
    assert state_of(db_session, order) == OrderState.AWAITING_PAYMENT


def test_renewal_unpaid_after_grace_period_suspends_then_payment_resumes(
    app, client, db_session, sandbox, stripe_service
):
    """A renewal stays unpaid past the grace period: the mailbox is suspended at the operator."""
    import datetime as dt

    from portal.payments.models import PaymentEvent
    from portal.subscriptions.models import Mailbox
    from tests.provisioning.helpers import make_order as provisioning_order
    from tests.provisioning.helpers import sandbox_operator

    settings = app.config["PORTAL_SETTINGS"]
    operator = sandbox_operator(db_session, settings, sandbox)
    offer = make_offer(db_session, operator=operator, price_cents=1000)
    address = f"late.{operator.id}@{operator.mail_domains[0]}"
    order = provisioning_order(db_session, operator=operator, offer=offer, address=address)
    states.transition(db_session, order, OrderState.AWAITING_PAYMENT, actor="system")
    order.stripe_subscription_id, order.total_cents = "sub_late", 1200
    db_session.commit()
    with app.app_context():
        from portal import queue

        checkout.mark_paid(db_session, states.lock_order(db_session, order.id), reason="test")
        db_session.commit()
        queue.drain(app)
    assert state_of(db_session, order) == OrderState.ACTIVE
    old = PaymentEvent(
        stripe_event_id=f"evt_late_fail_{order.id}",
        type="invoice.payment_failed",
        order_id=order.id,
        payload={},
        received_at=utcnow() - dt.timedelta(days=8),
        processed_at=utcnow(),
    )
    db_session.add(old)
    db_session.commit()
    with app.app_context():
        assert checkout.suspend_overdue_orders(db_session) == [order.id]
        db_session.commit()
    assert state_of(db_session, order) == OrderState.SUSPENDED
    mailbox = db_session.exec(select(Mailbox).where(Mailbox.address == address)).one()
    assert mailbox.state == "suspended"
    assert [m["status"] for m in sandbox.mailboxes(mailbox.address)] == ["suspended"]
    deliver(
        client,
        {
            "id": f"evt_late_paid_{order.id}",
            "object": "event",
            "type": "invoice.payment_succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": "in_late",
                    "object": "invoice",
                    "subscription": "sub_late",
                    "status": "paid",
                }
            },
        },
    )
    assert state_of(db_session, order) == OrderState.ACTIVE
    assert [m["status"] for m in sandbox.mailboxes(mailbox.address)] == ["active"]


def test_the_payer_cancels_after_a_permanent_failure_and_is_refunded(
    client, db_session, stripe_service
):
    order = paid_offer_order(db_session, price=3000)
    [line] = db_session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    address = line.address
    offer_id = db_session.get(OfferRevision, order.offer_revision_id).offer_id
    operator_id = db_session.get(Offer, offer_id).operator_id
    mailbox = Mailbox(address=address, type="PER", operator_id=operator_id)
    db_session.add(mailbox)
    db_session.flush()
    line.mailbox_id = mailbox.id
    db_session.commit()
    signed_in(client, db_session, order)
    assert (
        pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD}).get_json()[
            "status"
        ]
        == "paid"
    )
    stored = states.lock_order(db_session, order.id)
    states.transition(
        db_session,
        stored,
        OrderState.NEEDS_ATTENTION,
        actor="system",
        reason="Domain closed at the operator",
    )
    db_session.commit()
    confirm = BeautifulSoup(
        client.get(f"/commandes/{order.id}/annulation").get_data(as_text=True), "html.parser"
    )
    assert "Domain closed at the operator" in confirm.get_text()
    assert state_of(db_session, order) == OrderState.NEEDS_ATTENTION  # asking changes nothing
    token = confirm.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(f"/commandes/{order.id}/annulation", data={"csrf_token": token})
    assert response.status_code == 302
    assert state_of(db_session, order) == OrderState.REFUNDED
    # Nothing was created at the operator: the address is free for someone else.
    assert db_session.exec(select(Mailbox).where(Mailbox.address == address)).first() is None
    subscription = stripe_service.retrieve_subscription(
        db_session.get(Order, order.id).stripe_subscription_id
    )
    refunds = stripe_service.list_refunds(
        payment_intent=subscription["latest_invoice"]["payment_intent"]
    )
    assert [r["amount"] for r in refunds] == [3600]


def test_an_active_order_cannot_be_cancelled_and_refunded_here(client, db_session, stripe_service):
    order = make_order(db_session, state=OrderState.ACTIVE)
    db_session.commit()
    signed_in(client, db_session, order)
    response = client.get(f"/commandes/{order.id}/annulation")
    assert response.status_code == 302
    assert state_of(db_session, order) == OrderState.ACTIVE


def test_a_lost_webhook_only_delays_the_payment(client, db_session, stripe_service, app):
    """SEPA debit settled at Stripe, webhook never delivered: the reconciler asks Stripe."""
    import datetime as dt

    order = paid_offer_order(db_session)
    signed_in(client, db_session, order)
    iban = {
        "type": "sepa_debit",
        "sepa_debit": {"iban": IBAN_OK},
        "billing_details": {"name": "M", "email": "m@example.org"},
    }
    assert (
        pay_in_page(client, stripe_service, order, iban, method="sepa_debit").get_json()["status"]
        == "pending"
    )
    time.sleep(0.8)  # the debit settles at Stripe
    with app.app_context():
        assert checkout.reconcile_payments(db_session, stripe_service) == []  # too early to ask
        later = utcnow() + dt.timedelta(minutes=15)
        assert checkout.reconcile_payments(db_session, stripe_service, now=later) == [order.id]
        db_session.commit()
    assert state_of(db_session, order) == OrderState.PROVISIONING


def test_a_subscription_whose_answer_was_lost_is_found_again(
    client, db_session, stripe_service, app
):
    import datetime as dt

    order = paid_offer_order(db_session)
    customer, subscription = subscribe_at_stripe(db_session, stripe_service, order, key="lost")
    stored = db_session.get(Order, order.id)
    stored.stripe_customer_id = customer  # the request crashed after this, before the answer
    db_session.commit()
    later = utcnow() + dt.timedelta(minutes=15)
    with app.app_context():
        assert checkout.reconcile_payments(db_session, stripe_service, now=later) == [order.id]
        db_session.commit()
    assert db_session.get(Order, order.id).stripe_subscription_id == subscription["id"]
    assert state_of(db_session, order) == OrderState.PROVISIONING


def test_an_old_failure_arriving_after_a_success_changes_nothing(
    client, db_session, stripe_service
):
    order = make_order(db_session, state=OrderState.ACTIVE, stripe_subscription_id="sub_order_1")
    db_session.commit()
    now = int(time.time())

    def invoice_event(event_id, event_type, created):
        return {
            "id": event_id, "object": "event", "type": event_type, "created": created,
            "data": {"object": {"id": "in_1", "object": "invoice", "subscription": "sub_order_1"}},
        }  # fmt: skip

    deliver(client, invoice_event("evt_order_ok", "invoice.payment_succeeded", now))
    deliver(client, invoice_event("evt_order_ko", "invoice.payment_failed", now - 60))
    stored = db_session.get(Order, order.id)
    assert not checkout.last_payment_failed(db_session, stored)
    assert outbox(db_session, "payment-failed:evt_order_ko") == []
    later = utcnow() + checkout.PAYMENT_GRACE_PERIOD * 2
    assert checkout.suspend_overdue_orders(db_session, now=later) == []
    assert state_of(db_session, order) == OrderState.ACTIVE


def test_free_and_fully_subsidised_orders_never_touch_stripe(
    app, client, db_session, stripe_service
):
    from portal.subscriptions.submission import continue_after_submission

    order = make_order(db_session, state=OrderState.SUBMITTED, total_cents=0)
    db_session.commit()
    with app.app_context():
        continue_after_submission(db_session, states.lock_order(db_session, order.id))
        db_session.commit()
    stored = db_session.get(Order, order.id)
    assert stored.state == OrderState.PROVISIONING
    assert stored.stripe_customer_id is None and stored.stripe_subscription_id is None
    signed_in(client, db_session, order)
    page = BeautifulSoup(
        client.get(f"/commandes/{order.id}/paiement").get_data(as_text=True), "html.parser"
    )
    assert "n’attend pas de paiement" in page.get_text()
    assert page.find(id="form-carte") is None


def test_stripe_bills_the_accepted_quote_with_its_subsidy(client, db_session, stripe_service):
    from portal.regions.models import SubsidyProgramme
    from portal.subscriptions.quotes import compute_quote, subsidy_terms

    offer = make_offer(db_session, price_cents=1000)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    revision.setup_fee_cents = 500
    programme = SubsidyProgramme(
        slug=f"half-{offer.id}", region_code="11", offer_id=offer.id,
        name={"fr": "Moitié", "en": "Half"}, rule="percent", value=50, duration_months=12,
    )  # fmt: skip
    db_session.add(programme)
    db_session.flush()
    quote = compute_quote(
        revision, mailboxes=2, subsidy=subsidy_terms(programme, revision, mailboxes=2)
    )
    order = make_order(
        db_session, offer=offer, quote=quote.to_json(), total_cents=quote.first_payment_cents
    )
    db_session.commit()
    terms = checkout.recurring_terms(db_session, order)
    assert (terms.unit_amount_cents, terms.quantity, terms.setup_fee_cents) == (600, 2, 600)
    signed_in(client, db_session, order)
    assert (
        pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD}).get_json()[
            "status"
        ]
        == "paid"
    )
    invoice = stripe_service.retrieve_subscription(
        db_session.get(Order, order.id).stripe_subscription_id
    )["latest_invoice"]
    assert invoice["amount_paid"] == quote.first_payment_cents == 1800
    # Revision prices may change later: the order keeps its accepted quote.
    revision.price_cents = 5000
    db_session.commit()
    assert checkout.recurring_terms(db_session, order).unit_amount_cents == 600


def test_the_order_page_leads_to_the_payment_page(client, db_session):
    order = make_order(db_session)
    db_session.commit()
    signed_in(client, db_session, order)
    page = BeautifulSoup(client.get(f"/commandes/{order.id}").get_data(as_text=True), "html.parser")
    assert page.find(id="pay-order")["href"] == f"/commandes/{order.id}/paiement"
