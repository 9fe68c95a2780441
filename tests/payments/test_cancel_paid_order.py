"""The holder cancels from « Mes boîtes et commandes » an order that Stripe charged (or is
charging) but that never became a mailbox: the subscription stops at Stripe, the money comes
back, and a subsidised place goes back to its programme."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from portal.catalogue.models import OfferRevision
from portal.payments import set_stripe_payments
from portal.payments.stripe_service import StripePayments
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import quotes, states
from portal.subscriptions.models import Mailbox, Order, OrderLine, OrderState
from tests.factories import make_offer
from tests.payments.helpers import make_order
from tests.payments.test_checkout import CARD, IBAN_OK, pay_in_page, signed_in, state_of


def subsidised_paid_order(db_session):
    """An order for a 20 € offer, half paid by a programme with a quota of one (taken)."""
    offer = make_offer(db_session, price_cents=2000)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    programme = SubsidyProgramme(
        slug=f"moitie-{offer.id}", region_code="11", offer_id=offer.id,
        name={"fr": "Moitié", "en": "Half"}, rule="percent", value=50, quota_mailboxes=1,
    )  # fmt: skip
    db_session.add(programme)
    db_session.flush()
    terms = quotes.subsidy_terms(programme, revision, mailboxes=1)
    assert quotes.reserve(db_session, terms)
    quote = quotes.compute_quote(revision, subsidy=terms)
    order = make_order(
        db_session,
        offer=offer,
        programme_id=programme.id,
        quote=quote.to_json(),
        total_cents=quote.first_payment_cents,
    )
    address = f"annule-{order.id}@test.mssante.fr"
    mailbox = Mailbox(address=address, type="PER", operator_id=offer.operator_id)
    db_session.add(mailbox)
    db_session.flush()
    db_session.add(
        OrderLine(
            order_id=order.id, position=1, mailbox_type="PER", address=address,
            mailbox_id=mailbox.id,
        )
    )  # fmt: skip
    db_session.commit()
    return order, programme


def cancel_from_my_orders(client, order):
    page = BeautifulSoup(
        client.get(f"/commandes/{order.id}/annuler").get_data(as_text=True), "html.parser"
    )
    token = page.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(f"/commandes/{order.id}/annuler", data={"csrf_token": token})
    assert response.status_code == 302
    return page, BeautifulSoup(
        client.get(response.headers["Location"]).get_data(as_text=True), "html.parser"
    )


def test_cancelling_a_paid_order_that_failed_refunds_it_at_stripe(
    client, db_session, stripe_service
):
    order, programme = subsidised_paid_order(db_session)
    signed_in(client, db_session, order)
    response = pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD})
    assert response.get_json()["status"] == "paid"
    stored = states.lock_order(db_session, order.id)
    states.transition(
        db_session, stored, OrderState.NEEDS_ATTENTION, actor="system", reason="Domain closed"
    )
    db_session.commit()

    confirm, order_page = cancel_from_my_orders(client, order)
    assert "remboursé" in confirm.get_text()  # said before confirming
    assert "La commande est annulée et le paiement remboursé." in order_page.get_text()
    assert state_of(db_session, order) == OrderState.REFUNDED
    path = [event.to_state for event in states.events_of(db_session, order.id)]
    assert path[-2:] == [OrderState.CANCELLED, OrderState.REFUNDED]
    stored = db_session.get(Order, order.id)
    subscription = stripe_service.retrieve_subscription(stored.stripe_subscription_id)
    assert subscription["status"] == "canceled"
    refunds = stripe_service.list_refunds(
        payment_intent=subscription["latest_invoice"]["payment_intent"]
    )
    assert [refund["amount"] for refund in refunds] == [1200]  # 10 € left to pay + VAT
    # The address is free again and the subsidised place is back, once.
    assert db_session.exec(select(Mailbox).where(Mailbox.address.startswith("annule-"))).all() == []
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 0
    assert stored.quote[quotes.RELEASED] is True


def test_cancelling_while_the_debit_is_pending_stops_the_subscription(
    client, db_session, stripe_service
):
    order, programme = subsidised_paid_order(db_session)
    signed_in(client, db_session, order)
    iban = {
        "type": "sepa_debit",
        "sepa_debit": {"iban": IBAN_OK},
        "billing_details": {"name": "Marie Durand", "email": "m@example.org"},
    }
    response = pay_in_page(client, stripe_service, order, iban, method="sepa_debit")
    assert response.get_json()["status"] == "pending"
    cancel_from_my_orders(client, order)
    stored = db_session.get(Order, order.id)
    assert stored.state in (OrderState.CANCELLED, OrderState.REFUNDED)
    subscription = stripe_service.retrieve_subscription(stored.stripe_subscription_id)
    assert subscription["status"] == "canceled"
    invoice = subscription["latest_invoice"]
    refunded = sum(
        refund["amount"]
        for refund in stripe_service.list_refunds(payment_intent=invoice["payment_intent"])
    )
    # Whatever the bank took is given back, and the order says which it was.
    assert refunded == (invoice.get("amount_paid") or 0)
    assert (stored.state == OrderState.REFUNDED) == (refunded > 0)
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 0


def test_stripe_unreachable_cancels_nothing(
    app, client, db_session, stripe_service, unused_port_url
):
    order, programme = subsidised_paid_order(db_session)
    signed_in(client, db_session, order)
    assert (
        pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD}).get_json()[
            "status"
        ]
        == "paid"
    )
    stored = states.lock_order(db_session, order.id)
    states.transition(
        db_session, stored, OrderState.NEEDS_ATTENTION, actor="system", reason="Domain closed"
    )
    db_session.commit()
    set_stripe_payments(
        app,
        StripePayments(
            secret_key="sk_test_x",
            publishable_key="pk_test_x",
            api_base=unused_port_url,
            timeout_seconds=2,
        ),
    )
    _confirm, order_page = cancel_from_my_orders(client, order)
    assert "Le service de paiement ne répond pas" in order_page.get_text()
    assert state_of(db_session, order) == OrderState.NEEDS_ATTENTION
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 1
