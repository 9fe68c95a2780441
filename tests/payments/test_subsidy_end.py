"""A subsidy for a limited time: once its months are over, Stripe bills the full price."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Account
from portal.catalogue.models import OfferRevision
from portal.mail.models import OutboxMessage
from portal.payments import checkout
from portal.payments.stripe_service import period_end
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import quotes, states
from portal.subscriptions.models import Order, OrderLine, OrderState
from tests.factories import make_offer
from tests.payments.helpers import make_order
from tests.payments.test_checkout import CARD, pay_in_page, signed_in


def active_subsidised_order(client, db_session, stripe_service, *, months: int) -> Order:
    """A 10 € a month offer, half paid by the region for ``months`` months, paid by card."""
    offer = make_offer(db_session, price_cents=1000)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    programme = SubsidyProgramme(
        slug=f"temps-{offer.id}", region_code="11", offer_id=offer.id,
        name={"fr": "Un temps", "en": "For a while"}, rule="percent", value=50,
        duration_months=months,
    )  # fmt: skip
    db_session.add(programme)
    db_session.flush()
    quote = quotes.compute_quote(
        revision, subsidy=quotes.subsidy_terms(programme, revision, mailboxes=1)
    )
    order = make_order(
        db_session,
        offer=offer,
        programme_id=programme.id,
        quote=quote.to_json(),
        total_cents=quote.first_payment_cents,
    )
    db_session.add(
        OrderLine(order_id=order.id, position=1, mailbox_type="PER", address=f"t{order.id}@x.fr")
    )
    db_session.commit()
    signed_in(client, db_session, order)
    response = pay_in_page(client, stripe_service, order, {"type": "card", "card": CARD})
    assert response.get_json()["status"] == "paid"
    stored = states.lock_order(db_session, order.id)
    states.transition(db_session, stored, OrderState.ACTIVE, actor="system", reason="Created")
    db_session.commit()
    return stored


def test_the_full_price_starts_when_the_subsidised_months_are_over(
    app, client, db_session, stripe_service
):
    order = active_subsidised_order(client, db_session, stripe_service, months=1)
    subsidised_id = order.stripe_subscription_id
    subsidised = stripe_service.retrieve_subscription(subsidised_id)
    assert subsidised["plan"]["amount"] == 600  # 5 € + VAT while the region pays half
    started = dt.datetime.fromtimestamp(subsidised["start_date"], dt.UTC)
    assert order.subsidy_ends_at == quotes.add_months(started, 1)

    page = BeautifulSoup(client.get(f"/commandes/{order.id}").get_data(as_text=True), "html.parser")
    term = page.find(id="subsidy-term").get_text(" ", strip=True)
    assert order.subsidy_ends_at.strftime("%Y") in term and "12,00" in term and "par mois" in term

    with app.app_context():  # as in the payments housekeeping job
        assert checkout.end_subsidised_prices(db_session, stripe_service) == [order.id]
        db_session.commit()

    stored = db_session.get(Order, order.id)
    subsidised = stripe_service.retrieve_subscription(subsidised_id)
    assert subsidised["cancel_at_period_end"] is True  # the subsidised month runs to its end
    full = stripe_service.retrieve_subscription(stored.stripe_subscription_id)
    assert full["id"] != subsidised_id
    assert full["plan"]["amount"] == 1200 and full["quantity"] == 1  # 10 € + VAT
    assert full["trial_end"] == period_end(subsidised)  # nothing charged before then
    assert full["metadata"] == {"order_id": str(order.id), "follows": subsidised_id}
    assert stored.full_price_from == dt.datetime.fromtimestamp(period_end(subsidised), dt.UTC)
    assert stored.state == OrderState.ACTIVE

    # The payer is told before the first full-price charge: when, how much, how to stop it.
    [mail] = db_session.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key == f"subsidy-ending:{order.id}")
    ).all()
    assert mail.to_address == db_session.get(Account, order.account_id).email
    assert "prise en charge régionale" in mail.subject
    starts = format_date(stored.full_price_from.date(), format="long", locale="fr")
    assert f"à partir du {starts}" in mail.body_text
    assert "12,00 € TTC par mois" in mail.body_text.replace("\u202f", " ").replace("\xa0", " ")
    assert f"/commandes/{order.id}" in mail.body_text

    # Running again changes nothing, at Stripe or here.
    assert checkout.end_subsidised_prices(db_session, stripe_service) == []
    customer_subscriptions = stripe_service._call(
        stripe_service._client.v1.subscriptions.list,
        params={"customer": stored.stripe_customer_id, "status": "all"},
    )["data"]
    assert sorted(s["id"] for s in customer_subscriptions) == sorted([subsidised_id, full["id"]])
    assert (
        len(
            db_session.exec(
                select(OutboxMessage).where(OutboxMessage.dedup_key.startswith("subsidy-ending:"))
            ).all()
        )
        == 1
    )


def test_a_subsidy_with_months_left_keeps_its_price(client, db_session, stripe_service):
    order = active_subsidised_order(client, db_session, stripe_service, months=3)
    assert checkout.end_subsidised_prices(db_session, stripe_service) == []
    later = order.subsidy_ends_at - dt.timedelta(days=10)  # inside the last month
    assert checkout.end_subsidised_prices(db_session, stripe_service, now=later) == []
    # localstripe keeps the first period: Stripe's period must reach the subsidy's end.
    stored = db_session.get(Order, order.id)
    assert stored.full_price_from is None
    assert (
        stripe_service.retrieve_subscription(stored.stripe_subscription_id)["plan"]["amount"] == 600
    )
