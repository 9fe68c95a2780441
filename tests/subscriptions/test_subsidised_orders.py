"""Subsidised subscriptions as a professional meets them: the quote shown, the quota taken
when the order is placed and given back when it ends without a mailbox."""

from __future__ import annotations

import uuid

import pytest
from bs4 import BeautifulSoup

from portal import queue
from portal.accounts.models import Activity
from portal.catalogue.models import OfferRevision
from portal.regions.models import SubsidyProgramme
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_professional, make_structure
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
