"""Subsidised subscriptions as a professional meets them: the quote shown, the quota taken
when the order is placed and given back when it ends without a mailbox."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from sqlmodel import Session, select

from portal import queue
from portal.accounts.models import Account, Activity, Professional
from portal.catalogue.models import Department, Offer, OfferRevision, Region
from portal.db import create_engine
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import quotes, services
from portal.subscriptions.models import Order, OrderState
from tests.accounts.helpers import sign_in_client
from tests.conftest import migrated_database_url
from tests.factories import (
    make_account,
    make_offer,
    make_operator,
    make_professional,
    make_structure,
)
from tests.provisioning.helpers import sandbox_operator


def _page(response) -> BeautifulSoup:
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _csrf(page: BeautifulSoup) -> str:
    return page.find("input", {"name": "csrf_token"})["value"]


@pytest.fixture
def lyon_professional(app, db_session, client):
    professional = make_professional(db_session, first_name="Inès", last_name="Morel")
    structure = make_structure(db_session, department_code="69")
    db_session.add(Activity(professional_id=professional.id, structure_id=structure.id))
    account = make_account(db_session, professional_id=professional.id, email="ines@example.org")
    db_session.commit()
    sign_in_client(client, account)
    return account, professional


@pytest.fixture
def paid_offer(app, db_session, settings, clean_sandbox):
    queue.runner(app).clear()
    domain = f"aide-{uuid.uuid4().hex[:8]}.mssante.fr"
    operator = sandbox_operator(db_session, settings, clean_sandbox, mail_domains=[domain])
    offer = make_offer(db_session, operator=operator, price_cents=1000)
    db_session.get(OfferRevision, offer.current_revision_id).setup_fee_cents = 500
    db_session.commit()
    yield offer
    queue.runner(app).clear()


def programme_for(db_session, offer, **values) -> SubsidyProgramme:
    programme = SubsidyProgramme(
        slug=f"aura-{uuid.uuid4().hex[:8]}",
        region_code="84",
        offer_id=offer.id,
        name={"fr": "Aide Auvergne-Rhône-Alpes", "en": "AURA grant"},
        rule=values.pop("rule", "percent"),
        **values,
    )
    db_session.add(programme)
    db_session.commit()
    return programme


def walk_to_summary(client, offer) -> BeautifulSoup:
    page = _page(client.get(f"/souscrire/{offer.slug}"))
    page = _page(client.get(f"/souscrire/{offer.slug}/adresse"))
    choice = page.select("input[name=choice]")[0]["value"]
    response = client.post(
        f"/souscrire/{offer.slug}/adresse",
        data={"csrf_token": _csrf(page), "choice": choice},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return _page(client.get(response.headers["Location"]))


@pytest.mark.parametrize(
    ("rule", "value", "setup_row", "rule_text", "due"),
    [
        ("percent", 50, "2,50", "dans la même proportion que le prix", "9,00"),
        ("amount", 400, None, "restent à votre charge", "13,20"),
        ("free", None, "5,00", "entièrement pris en charge", "0,00"),
    ],
)
def test_the_summary_says_how_the_setup_fee_is_covered(
    client, db_session, lyon_professional, paid_offer, rule, value, setup_row, rule_text, due
):
    revision = db_session.get(OfferRevision, paid_offer.current_revision_id)
    revision.price_cents, revision.setup_fee_cents = 1000, 500
    db_session.commit()
    programme_for(db_session, paid_offer, rule=rule, value=value, duration_months=12)
    summary = walk_to_summary(client, paid_offer)
    quote = summary.find(id="quote")
    assert "Aide Auvergne-Rhône-Alpes (pendant 12 mois)" in quote.get_text()
    if setup_row:
        assert setup_row in summary.find(id="subsidy-setup").get_text()
    else:
        assert summary.find(id="subsidy-setup") is None
    assert rule_text in summary.find(id="setup-fee-rule").get_text()
    assert due in summary.find(id="amount-due").get_text()


def place(client, summary, slug):
    return client.post(
        f"/souscrire/{slug}/recapitulatif",
        data={
            "csrf_token": _csrf(summary),
            "idempotency_key": summary.find("input", {"name": "idempotency_key"})["value"],
            "accept": "y",
        },
    )


def test_a_cancelled_subsidised_order_gives_its_place_to_the_next_order(
    app, client, db_session, lyon_professional, paid_offer
):
    programme = programme_for(db_session, paid_offer, value=50, quota_mailboxes=1)
    summary = walk_to_summary(client, paid_offer)
    response = place(client, summary, paid_offer.slug)
    assert response.status_code == 302
    first = db_session.exec(select(Order).order_by(Order.id.desc())).first()
    assert first.programme_id == programme.id and first.state == OrderState.AWAITING_PAYMENT
    assert first.quote["subsidy"]["programme_id"] == programme.id
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 1

    # Someone else now reads the full price, and why.
    other = make_professional(db_session)
    structure = make_structure(db_session, department_code="69")
    db_session.add(Activity(professional_id=other.id, structure_id=structure.id))
    other_account = make_account(db_session, professional_id=other.id)
    db_session.commit()
    other_client = app.test_client()
    sign_in_client(other_client, other_account)
    other_summary = walk_to_summary(other_client, paid_offer)
    assert "18,00" in other_summary.find(id="amount-due").get_text()  # (10 € + 5 €) + VAT
    assert "quota de boîtes subventionnées" in other_summary.find(id="subsidy-unavailable").text

    # The first person cancels (with confirmation): the place is free again, once.
    page = _page(client.get(f"/commandes/{first.id}/annuler"))
    response = client.post(f"/commandes/{first.id}/annuler", data={"csrf_token": _csrf(page)})
    assert response.status_code == 302
    db_session.expire_all()
    cancelled = db_session.get(Order, first.id)
    assert cancelled.state == OrderState.CANCELLED
    assert cancelled.quote[quotes.RELEASED] is True
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 0
    assert not quotes.release_order_subsidy(db_session, cancelled)  # never twice
    assert client.post(f"/commandes/{first.id}/annuler", data={"csrf_token": _csrf(page)})
    db_session.expire_all()
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 0

    # The next order gets the place.
    other_summary = walk_to_summary(other_client, paid_offer)
    assert other_summary.find(id="subsidy-unavailable") is None
    assert "9,00" in other_summary.find(id="amount-due").get_text()
    assert place(other_client, other_summary, paid_offer.slug).status_code == 302
    second = db_session.exec(select(Order).order_by(Order.id.desc())).first()
    assert second.id != first.id and second.programme_id == programme.id
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 1


def test_the_last_place_taken_meanwhile_means_nothing_is_ordered_until_the_new_price_is_seen(
    app, client, db_session, lyon_professional, paid_offer
):
    programme = programme_for(db_session, paid_offer, value=50, quota_mailboxes=1)
    summary = walk_to_summary(client, paid_offer)
    assert "9,00" in summary.find(id="amount-due").get_text()
    db_session.get(SubsidyProgramme, programme.id).quota_used = 1  # someone else took it
    db_session.commit()
    response = place(client, summary, paid_offer.slug)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/souscrire/{paid_offer.slug}/recapitulatif")
    account, _professional = lyon_professional
    assert db_session.exec(select(Order).where(Order.account_id == account.id)).all() == []
    summary = _page(client.get(response.headers["Location"]))
    assert "Le prix a changé" in summary.get_text()
    assert "18,00" in summary.find(id="amount-due").get_text()
    assert place(client, summary, paid_offer.slug).status_code == 302
    order = db_session.exec(select(Order).where(Order.account_id == account.id)).one()
    assert order.programme_id is None and order.total_cents == 1800  # (10 € + 5 €) + VAT
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 1


# Fifty people at once through the real submission service, on a database of its own ----------

CROWD = 50
QUOTA = 20


@pytest.fixture(scope="module")
def crowd_engine(tmp_path_factory):
    url = migrated_database_url(tmp_path_factory.mktemp("crowd"), "crowd")
    engine = create_engine(url)
    with Session(engine) as session:
        session.add(Region(code="84", name="Auvergne-Rhône-Alpes"))
        session.flush()
        session.add(Department(code="69", name="Rhône", region_code="84"))
        operator = make_operator(session, mail_domains=["foule.mssante.fr"])
        offer = make_offer(session, operator=operator, price_cents=1000, slug="foule")
        session.add(
            SubsidyProgramme(
                slug="foule-20",
                region_code="84",
                offer_id=offer.id,
                name={"fr": "Vingt places", "en": "Twenty places"},
                rule="percent",
                value=50,
                duration_months=12,
                quota_mailboxes=QUOTA,
            )
        )
        for n in range(CROWD):
            professional = make_professional(session, first_name="Pro", last_name=f"Foule{n}")
            structure = make_structure(session, department_code="69")
            session.add(Activity(professional_id=professional.id, structure_id=structure.id))
            make_account(session, professional_id=professional.id, email=f"foule{n}@example.org")
        session.commit()
    yield engine
    engine.dispose()


def submit(engine, account_id: int, accepted: str, start: threading.Barrier | None) -> str:
    """One person validates the summary: 'placed', or the digest of the new quote."""
    if start is not None:
        start.wait()
    for _attempt in range(200):
        with Session(engine) as session:
            try:
                account = session.get(Account, account_id)
                professional = session.get(Professional, account.professional_id)
                offer = session.exec(select(Offer).where(Offer.slug == "foule")).one()
                services.place_order(
                    session,
                    account=account,
                    professional=professional,
                    offer=offer,
                    address=f"pro{account_id}@foule.mssante.fr",
                    idempotency_key=f"foule-{account_id}",
                    locale="fr",
                    accepted_quote=accepted,
                )
                session.commit()
                return "placed"
            except services.QuoteChanged as changed:
                session.rollback()
                return changed.quote.digest
            except sa.exc.OperationalError:
                # SQLite refuses a write whose read snapshot went stale; the person's browser
                # sends the same form (same key) again.
                session.rollback()
    raise AssertionError("the order could not be stored")


def test_fifty_people_at_once_never_get_more_than_the_twenty_subsidised_places(app, crowd_engine):
    with Session(crowd_engine) as session:
        account_ids = session.exec(select(Account.id).order_by(Account.id)).all()
        first = session.get(Account, account_ids[0])
        offer = session.exec(select(Offer).where(Offer.slug == "foule")).one()
        _revision, programme, shown = services.quote_for(
            session, offer, session.get(Professional, first.professional_id), {"69"}
        )
        assert programme is not None and shown.first_payment_cents == 600
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(account_ids))

    def person(account_id):
        try:
            with app.app_context():
                outcomes[account_id] = submit(crowd_engine, account_id, shown.digest, start)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=person, args=(a,)) for a in account_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    placed = [a for a, outcome in outcomes.items() if outcome == "placed"]
    refused = {a: outcome for a, outcome in outcomes.items() if outcome != "placed"}
    assert (len(placed), len(refused)) == (QUOTA, CROWD - QUOTA)
    # Those refused read the full price and accept it: their orders are not subsidised.
    with app.app_context():
        for account_id, digest in refused.items():
            assert submit(crowd_engine, account_id, digest, None) == "placed"
    with Session(crowd_engine) as session:
        orders = session.exec(select(Order)).all()
        programme = session.exec(
            select(SubsidyProgramme).where(SubsidyProgramme.slug == "foule-20")
        ).one()
        subsidised = [o for o in orders if o.programme_id == programme.id]
        assert len(orders) == CROWD
        assert len(subsidised) == QUOTA
        assert {o.account_id for o in subsidised} == set(placed)
        assert {o.total_cents for o in subsidised} == {600}
        assert {o.total_cents for o in orders if o.programme_id is None} == {1200}
        assert programme.quota_used == QUOTA
        assert programme.budget_used_cents == QUOTA * 500 * 12
