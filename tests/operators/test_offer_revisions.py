"""Operator back-office: an offer edited as a draft and published as a new revision."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Membership, Role
from portal.audit import AuditEvent
from portal.catalogue.models import Offer, OfferRevision
from portal.subscriptions.models import Order, Subscription
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_operator, make_professional


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf(page: BeautifulSoup) -> str:
    return page.select_one("input[name=csrf_token]")["value"]


@pytest.fixture
def operator_setup(db_session):
    operator = make_operator(db_session, name="Messagerie Test")
    offer = make_offer(
        db_session,
        operator=operator,
        slug="offre-revisions",
        name="Offre Révisions",
        price_cents=500,
        features={"webmail": True, "attachment_max_mb": 10},
    )
    admin = make_account(db_session)
    db_session.add(
        Membership(account_id=admin.id, role=Role.OPERATOR_ADMIN, operator_id=operator.id)
    )
    db_session.commit()
    return operator, offer, admin


def form_of(page: BeautifulSoup) -> dict:
    """The form's fields as a browser would post them."""
    data: dict = {}
    form = page.select_one("main form")
    for element in form.select("input, textarea, select"):
        name = element.get("name")
        if not name:
            continue
        if element.name == "select":
            chosen = element.select_one("option[selected]") or element.select_one("option")
            data[name] = chosen.get("value", "")
        elif element.name == "textarea":
            data[name] = element.get_text()
        elif element.get("type") == "checkbox":
            if element.has_attr("checked"):
                data.setdefault(name, []).append(element["value"])
        else:
            data[name] = element.get("value", "")
    return data


def test_operator_publishes_a_new_revision_and_a_subscription_keeps_its_terms(
    client, db_session, operator_setup
):
    operator, offer, admin = operator_setup
    first_revision_id = offer.current_revision_id
    # Someone subscribed to revision 1 at 5 € a month.
    holder = make_professional(db_session)
    order = Order(
        idempotency_key="revision-test",
        account_id=admin.id,
        professional_id=holder.id,
        offer_revision_id=first_revision_id,
        state="active",
    )
    db_session.add(order)
    db_session.flush()
    subscription = Subscription(
        order_id=order.id, offer_revision_id=first_revision_id, professional_id=holder.id
    )
    db_session.add(subscription)
    db_session.commit()

    sign_in_client(client, admin)
    base = f"/espace-operateur/{operator.id}/offres/{offer.id}/"
    landing = soup(client.get(f"/espace-operateur/{operator.id}/"))
    assert landing.find("a", href=base) is not None

    page = soup(client.get(base + "brouillon"))
    data = form_of(page)
    assert data["price"] == "5,00"
    assert data["feature-webmail"] == "yes"
    assert data["feature-attachment_max_mb"] == "10"

    # A mistake is reported next to its field and nothing typed is lost.
    data.update({"price": "douze", "summary-en": "New summary", "feature-attachment_max_mb": "25"})
    response = client.post(base + "brouillon", data=data)
    assert response.status_code == 400
    page = soup(response)
    assert "Indiquez le prix en euros" in page.select_one("#champ-price-erreur").get_text()
    assert page.select_one("#champ-summary-en")["value"] == "New summary"
    assert page.select_one("#champ-feature-attachment_max_mb")["value"] == "25"
    assert db_session.exec(
        select(OfferRevision).where(OfferRevision.offer_id == offer.id)
    ).all() == [db_session.get(OfferRevision, first_revision_id)]

    data["price"] = "7,50"
    data["feature-support_channels"] = ["phone", "chat"]
    response = client.post(base + "brouillon", data=data)
    assert response.status_code == 302
    page = soup(client.get(base))
    assert "7,50" in page.select_one("[data-testid=draft-terms]").get_text()
    # The catalogue still shows the published terms while the draft waits.
    assert "5,00" in page.select_one("[data-testid=current-terms]").get_text()
    assert "7,50" not in client.get("/offres/offre-revisions").get_data(as_text=True)

    confirm = soup(client.get(base + "publier"))
    assert "ne pourra plus être modifiée" in confirm.get_text()
    response = client.post(base + "publier", data={"csrf_token": csrf(confirm)})
    assert response.status_code == 302
    page = soup(client.get(base))
    assert "La révision 2 est publiée" in page.get_text()
    rows = [
        tr.th.get_text(" ", strip=True) for tr in page.select("[data-testid=revisions] tbody tr")
    ]
    assert rows == ["2 (en vigueur)", "1"]

    db_session.expire_all()
    offer = db_session.get(Offer, offer.id)
    new = db_session.get(OfferRevision, offer.current_revision_id)
    assert new.number == 2 and new.price_cents == 750 and new.published_at is not None
    assert new.features["attachment_max_mb"] == 25
    assert new.features["support_channels"] == ["phone", "chat"]
    assert new.summary["en"] == "New summary"
    old = db_session.get(OfferRevision, first_revision_id)
    assert old.price_cents == 500 and old.features["attachment_max_mb"] == 10
    # The subscription and its order still point at the terms their holder accepted.
    assert db_session.get(Subscription, subscription.id).offer_revision_id == first_revision_id
    assert db_session.get(Order, order.id).offer_revision_id == first_revision_id
    # The catalogue shows the new terms at once (its in-memory index was rebuilt).
    assert "7,50" in client.get("/offres/offre-revisions").get_data(as_text=True)
    actions = db_session.exec(
        select(AuditEvent.action).where(AuditEvent.target_id == str(offer.id))
    ).all()
    assert "offer_revision_published" in actions


def test_discarding_a_draft_keeps_the_published_terms(client, db_session, operator_setup):
    operator, offer, admin = operator_setup
    sign_in_client(client, admin)
    base = f"/espace-operateur/{operator.id}/offres/{offer.id}/"
    data = form_of(soup(client.get(base + "brouillon")))
    data["price"] = "99"
    assert client.post(base + "brouillon", data=data).status_code == 302
    confirm = soup(client.get(base + "brouillon/abandonner"))
    client.post(base + "brouillon/abandonner", data={"csrf_token": csrf(confirm)})
    revisions = db_session.exec(
        select(OfferRevision).where(OfferRevision.offer_id == offer.id)
    ).all()
    assert [r.price_cents for r in revisions] == [500]
    assert "Préparer une nouvelle révision" in client.get(base).get_data(as_text=True)


def test_withdrawing_an_offer_takes_it_out_of_the_catalogue(client, db_session, operator_setup):
    operator, offer, admin = operator_setup
    sign_in_client(client, admin)
    base = f"/espace-operateur/{operator.id}/offres/{offer.id}/"
    assert client.get("/offres/offre-revisions").status_code == 200
    confirm = soup(client.get(base + "retirer"))
    client.post(base + "retirer", data={"csrf_token": csrf(confirm)})
    assert db_session.get(Offer, offer.id).status == "withdrawn"
    assert client.get("/offres/offre-revisions").status_code in (404, 410)


def test_operator_pages_are_refused_to_other_operators_and_roles(
    client, db_session, operator_setup
):
    operator, offer, admin = operator_setup
    other_operator = make_operator(db_session)
    other_admin = make_account(db_session)
    db_session.add(
        Membership(
            account_id=other_admin.id, role=Role.OPERATOR_ADMIN, operator_id=other_operator.id
        )
    )
    region_admin = make_account(db_session)
    db_session.add(Membership(account_id=region_admin.id, role=Role.REGION_ADMIN, region_code="11"))
    platform = make_account(db_session)
    db_session.add(Membership(account_id=platform.id, role=Role.PLATFORM_ADMIN))
    db_session.commit()
    base = f"/espace-operateur/{operator.id}/offres/{offer.id}/"
    paths = [
        base,
        base + "brouillon",
        base + "publier",
        base + "brouillon/abandonner",
        base + "retirer",
    ]

    for path in paths:
        response = client.get(path)
        assert response.status_code == 302 and "/connexion" in response.location
    for account in (other_admin, region_admin):
        sign_in_client(client, account)
        for path in paths:
            assert client.get(path).status_code == 403, path
        assert client.post(base + "publier").status_code in (400, 403)
    # Another operator's admin cannot reach this offer through their own operator's URL either.
    sign_in_client(client, other_admin)
    assert (
        client.get(f"/espace-operateur/{other_operator.id}/offres/{offer.id}/").status_code == 404
    )
    sign_in_client(client, platform)
    for path in paths:
        assert client.get(path).status_code == 200, path
    sign_in_client(client, admin)
    for path in paths:
        assert client.get(path).status_code == 200, path
    assert re.search(r"Offre Révisions", client.get(base).get_data(as_text=True))
