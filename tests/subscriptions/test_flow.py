"""The subscription flow as a person meets it: pages parsed, database checked."""

from __future__ import annotations

import uuid

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from portal import queue
from portal.accounts.models import Activity
from portal.directory.models import DirectoryEntry
from portal.subscriptions.models import Order, OrderLine, OrderState
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_professional, make_structure
from tests.provisioning.helpers import sandbox_operator


def _page(response) -> BeautifulSoup:
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _csrf(page: BeautifulSoup) -> str:
    return page.find("input", {"name": "csrf_token"})["value"]


@pytest.fixture
def person(app, db_session, client):
    professional = make_professional(db_session, first_name="Hélène", last_name="Le Gall")
    account = make_account(
        db_session,
        professional_id=professional.id,
        display_name="Hélène Le Gall",
        email="helene@example.org",
    )
    db_session.commit()  # requests close the shared session: keep the rows past them
    sign_in_client(client, account)
    return account, professional


@pytest.fixture
def domain():
    # The reference operator keeps its mailboxes between tests: a fresh domain for each test.
    return f"flux-{uuid.uuid4().hex[:8]}.mssante.fr"


@pytest.fixture
def free_offer(app, db_session, settings, clean_sandbox, domain):
    queue.runner(app).clear()
    operator = sandbox_operator(db_session, settings, clean_sandbox, mail_domains=[domain])
    offer = make_offer(db_session, operator=operator, max_per_professional=1)
    db_session.commit()
    yield offer
    queue.runner(app).clear()


def _walk_to_summary(client, offer, choice=None):
    domain = offer_domain(offer)
    page = _page(client.get(f"/souscrire/{offer.slug}"))
    assert "Vous pouvez souscrire à cette offre" in page.get_text()
    page = _page(client.get(f"/souscrire/{offer.slug}/adresse"))
    radios = [radio["value"] for radio in page.select("input[name=choice]")]
    response = client.post(
        f"/souscrire/{offer.slug}/adresse",
        data={"csrf_token": _csrf(page), "choice": choice or radios[0], "domain": domain},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return radios, _page(client.get(response.headers["Location"]))


def test_a_professional_subscribes_to_a_free_offer_and_the_mailbox_becomes_active(
    app, client, db_session, person, free_offer, clean_sandbox, domain
):
    radios, summary = _walk_to_summary(client, free_offer)
    assert radios[:3] == [
        f"helene.le-gall@{domain}",
        f"h.le-gall@{domain}",
        f"le-gall.helene@{domain}",
    ]
    assert summary.find(id="chosen-address").get_text() == f"helene.le-gall@{domain}"
    assert "0,00" in summary.find(id="amount-due").get_text()
    response = client.post(
        f"/souscrire/{free_offer.slug}/recapitulatif",
        data={
            "csrf_token": _csrf(summary),
            "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
            "accept": "y",
        },
    )
    assert response.status_code == 302
    order_url = response.headers["Location"]
    page = _page(client.get(order_url))
    assert "Création de la boîte en cours" in page.find(id="order-status").get_text()
    assert page.find(id="order-status")["data-live"] == "true"

    with app.app_context():
        queue.drain(app)
    page = _page(client.get(order_url))
    status = page.find(id="order-status")
    assert "Boîte active" in status.get_text()
    assert f"imap.{domain}" in status.get_text()
    assert status["data-live"] == "false"
    assert db_session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == f"helene.le-gall@{domain}")
    ).one()
    assert len(clean_sandbox.mailboxes(f"helene.le-gall@{domain}")) == 1

    listing = _page(client.get("/commandes"))
    assert f"helene.le-gall@{domain}" in listing.find(id="my-orders").get_text()


def test_submitting_the_same_form_twice_gives_one_order(client, db_session, person, free_offer):
    _, summary = _walk_to_summary(client, free_offer)
    data = {
        "csrf_token": _csrf(summary),
        "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
        "accept": "y",
    }
    first = client.post(f"/souscrire/{free_offer.slug}/recapitulatif", data=data)
    second = client.post(f"/souscrire/{free_offer.slug}/recapitulatif", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    account, _ = person
    assert len(db_session.exec(select(Order).where(Order.account_id == account.id)).all()) == 1


def test_without_an_account_e_mail_the_confirmation_goes_to_the_address_given(
    app, client, db_session, person, free_offer
):
    from portal.mail.models import OutboxMessage

    account, _ = person
    account.email = None  # as after a Pro Santé Connect sign-in
    db_session.add(account)
    db_session.commit()
    _, summary = _walk_to_summary(client, free_offer)
    assert summary.find(id="contact_email") is not None
    data = {
        "csrf_token": _csrf(summary),
        "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
        "accept": "y",
    }
    refused = _page(
        client.post(
            f"/souscrire/{free_offer.slug}/recapitulatif", data={**data, "contact_email": "helene@"}
        )
    )
    assert "Saisissez une adresse e-mail valide" in refused.get_text()
    assert refused.find(id="contact_email")["value"] == "helene@"
    response = client.post(
        f"/souscrire/{free_offer.slug}/recapitulatif",
        data={**data, "contact_email": " Helene@Example.org "},
    )
    assert response.status_code == 302
    order = db_session.exec(select(Order).where(Order.account_id == account.id)).one()
    assert order.contact_email == "helene@example.org"
    with app.app_context():
        queue.drain(app)
    message = db_session.exec(
        select(OutboxMessage).where(OutboxMessage.to_address == "helene@example.org")
    ).one()
    assert "helene.le-gall@" in message.body_text


def test_an_account_with_an_e_mail_is_not_asked_for_one(client, person, free_offer):
    _, summary = _walk_to_summary(client, free_offer)
    assert summary.find(id="contact_email") is None


def test_the_terms_must_be_accepted_and_nothing_is_ordered_before(
    client, db_session, person, free_offer
):
    _, summary = _walk_to_summary(client, free_offer)
    response = client.post(
        f"/souscrire/{free_offer.slug}/recapitulatif",
        data={"csrf_token": _csrf(summary), "idempotency_key": "x" * 32},
    )
    page = _page(response)
    assert "Cochez cette case pour accepter les conditions" in page.get_text()
    account, _ = person
    assert db_session.exec(select(Order).where(Order.account_id == account.id)).all() == []


@pytest.mark.parametrize(
    ("local_part", "message"),
    [
        ("Jean Dupont", "Utilisez seulement des lettres minuscules"),
        ("a" * 65, "64 caractères au plus"),
        (".dupont", "Utilisez seulement des lettres minuscules"),
    ],
)
def test_bad_addresses_are_refused_with_the_reason_and_kept_in_the_form(
    client, person, free_offer, local_part, message, domain
):
    client.get(f"/souscrire/{free_offer.slug}")
    page = _page(client.get(f"/souscrire/{free_offer.slug}/adresse"))
    response = client.post(
        f"/souscrire/{free_offer.slug}/adresse",
        data={
            "csrf_token": _csrf(page),
            "choice": "other",
            "local_part": local_part,
            "domain": domain,
        },
    )
    page = _page(response)
    assert message in page.get_text()
    assert page.find(id="local_part")["value"] == local_part.strip().lower()


def test_a_taken_address_is_refused(client, db_session, person, free_offer, domain):
    db_session.add(DirectoryEntry(address=f"pris@{domain}", mailbox_type="PER"))
    db_session.commit()
    client.get(f"/souscrire/{free_offer.slug}")
    page = _page(client.get(f"/souscrire/{free_offer.slug}/adresse"))
    response = client.post(
        f"/souscrire/{free_offer.slug}/adresse",
        data={"csrf_token": _csrf(page), "choice": "other", "local_part": "pris", "domain": domain},
    )
    assert "Cette adresse est déjà prise" in _page(response).get_text()
    check = client.get(
        f"/souscrire/{free_offer.slug}/adresse/disponibilite?local_part=pris&domain={domain}"
    )
    assert check.json["available"] is False
    free = client.get(
        f"/souscrire/{free_offer.slug}/adresse/disponibilite?local_part=libre&domain={domain}"
    )
    assert free.json == {
        "address": f"libre@{domain}",
        "available": True,
        "message": "Cette adresse est disponible.",
    }


def test_an_address_outside_the_operator_domains_is_refused(client, person, free_offer, domain):
    client.get(f"/souscrire/{free_offer.slug}")
    check = client.get(
        f"/souscrire/{free_offer.slug}/adresse/disponibilite?local_part=libre&domain=autre.fr"
    )
    assert check.json["available"] is False
    assert domain in check.json["message"]


def test_ineligible_people_read_why(client, db_session, person, settings, clean_sandbox):
    operator = sandbox_operator(db_session, settings, clean_sandbox)
    offer = make_offer(
        db_session,
        operator=operator,
        professions=["21"],
        coverage_national=False,
        coverage_regions=["84"],
    )
    db_session.commit()
    page = _page(client.get(f"/souscrire/{offer.slug}"))
    reasons = page.find(id="eligibility-reasons").get_text()
    assert "réservée aux professions suivantes : pharmacien" in reasons
    assert "Auvergne-Rhône-Alpes" in reasons
    assert page.find("a", href=f"/souscrire/{offer.slug}/adresse") is None


def test_a_regional_offer_is_open_where_the_person_practises(
    client, db_session, person, settings, clean_sandbox
):
    _, professional = person
    structure = make_structure(db_session, department_code="69")
    db_session.add(Activity(professional_id=professional.id, structure_id=structure.id))
    offer = make_offer(
        db_session,
        operator=sandbox_operator(db_session, settings, clean_sandbox),
        coverage_national=False,
        coverage_regions=["84"],
    )
    db_session.commit()
    page = _page(client.get(f"/souscrire/{offer.slug}"))
    assert "Vous pouvez souscrire à cette offre" in page.get_text()


def test_one_mailbox_per_professional(app, client, db_session, person, free_offer):
    _, summary = _walk_to_summary(client, free_offer)
    client.post(
        f"/souscrire/{free_offer.slug}/recapitulatif",
        data={
            "csrf_token": _csrf(summary),
            "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
            "accept": "y",
        },
    )
    page = _page(client.get(f"/souscrire/{free_offer.slug}"))
    assert "une seule par professionnel" in page.find(id="eligibility-reasons").get_text()


def test_cancel_asks_for_confirmation_then_frees_the_address(
    client, db_session, person, free_offer, settings, clean_sandbox, domain
):
    # A paid offer waits for payment: it can be cancelled.
    paid = make_offer(
        db_session, operator=free_offer_operator(db_session, free_offer), price_cents=500
    )
    db_session.commit()
    _, summary = _walk_to_summary(client, paid)
    response = client.post(
        f"/souscrire/{paid.slug}/recapitulatif",
        data={
            "csrf_token": _csrf(summary),
            "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
            "accept": "y",
        },
    )
    order_url = response.headers["Location"]
    page = _page(client.get(order_url))
    assert "En attente de paiement" in page.find(id="order-status").get_text()
    confirm = _page(client.get(order_url + "/annuler"))
    assert "Cette action est définitive" in confirm.get_text()
    order_id = int(order_url.rsplit("/", 1)[1])
    assert db_session.get(Order, order_id).state == OrderState.AWAITING_PAYMENT
    client.post(order_url + "/annuler", data={"csrf_token": _csrf(confirm)})
    assert db_session.get(Order, order_id).state == OrderState.CANCELLED
    line = db_session.exec(select(OrderLine).where(OrderLine.order_id == order_id)).one()
    check = client.get(
        f"/souscrire/{paid.slug}/adresse/disponibilite?local_part={line.address.split('@')[0]}&domain={domain}"
    )
    assert check.json["available"] is True


def free_offer_operator(db_session, offer):
    from portal.catalogue.models import Operator

    return db_session.get(Operator, offer.operator_id)


def test_the_order_page_is_only_for_its_owner(app, client, db_session, person, free_offer):
    _, summary = _walk_to_summary(client, free_offer)
    response = client.post(
        f"/souscrire/{free_offer.slug}/recapitulatif",
        data={
            "csrf_token": _csrf(summary),
            "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
            "accept": "y",
        },
    )
    other = make_account(db_session)
    db_session.commit()
    sign_in_client(client, other)
    assert client.get(response.headers["Location"]).status_code == 404


def test_signed_out_people_are_sent_to_sign_in(app, db_session):
    client = app.test_client()
    response = client.get("/souscrire/mailiz")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


def offer_domain(offer):
    from sqlalchemy.orm import object_session

    from portal.catalogue.models import Operator

    return object_session(offer).get(Operator, offer.operator_id).mail_domains[0]
