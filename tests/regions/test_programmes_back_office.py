"""Region back-office: subsidy programmes created, edited, published and closed by region staff."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Membership, Role
from portal.regions.models import SubsidyProgramme
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_operator


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf(page: BeautifulSoup) -> str:
    return page.select_one("input[name=csrf_token]")["value"]


@pytest.fixture
def region_setup(db_session):
    offer = make_offer(
        db_session, operator=make_operator(db_session), name="Offre ORG", mailbox_types=["ORG"]
    )
    admin = make_account(db_session)
    db_session.add(
        Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53")
    )  # Bretagne
    db_session.commit()
    return offer, admin


def form_data(page, **values):
    data = {"csrf_token": csrf(page)}
    data.update(values)
    return data


def test_region_admin_creates_publishes_edits_and_closes_a_programme(
    client, db_session, region_setup
):
    offer, admin = region_setup
    sign_in_client(client, admin)
    landing = soup(client.get("/espace-region/53/"))
    assert landing.find("a", href="/espace-region/53/programmes/") is not None
    assert "Aucun programme" in client.get("/espace-region/53/programmes/").get_data(as_text=True)

    page = soup(client.get("/espace-region/53/programmes/nouveau"))
    offers = [o.get_text() for o in page.select("#offer_id option")]
    assert "Offre ORG" in offers
    departments = [i["value"] for i in page.select("input[name=departments]")]
    assert sorted(departments) == ["22", "29", "35", "56"]

    # Mistakes are explained and what was typed stays.
    response = client.post(
        "/espace-region/53/programmes/nouveau",
        data=form_data(
            page,
            name_fr="Pharmacies bretonnes",
            name_en="",
            offer_id=str(offer.id),
            rule="percent",
            value="150",
            departments=["29", "75"],
        ),
    )
    assert response.status_code == 400
    page = soup(response)
    assert page.select_one("#name_fr")["value"] == "Pharmacies bretonnes"
    assert "en anglais" in page.select_one("#name_en-messages").get_text()
    assert (
        db_session.exec(select(SubsidyProgramme).where(SubsidyProgramme.region_code == "53")).all()
        == []
    )

    response = client.post(
        "/espace-region/53/programmes/nouveau",
        data=form_data(
            page,
            name_fr="Pharmacies bretonnes",
            name_en="Breton pharmacies",
            offer_id=str(offer.id),
            rule="percent",
            value="150",
            structure_types=["pharmacie"],
            departments=["29"],
        ),
    )
    assert response.status_code == 400
    assert "de 1 à 100" in soup(response).select_one("#value-messages").get_text()

    response = client.post(
        "/espace-region/53/programmes/nouveau",
        data=form_data(
            page,
            name_fr="Pharmacies bretonnes",
            name_en="Breton pharmacies",
            offer_id=str(offer.id),
            rule="free",
            structure_types=["pharmacie"],
            departments=["29", "35"],
            quota_mailboxes="300",
            budget="5000",
            needs_approval="y",
            starts_on="2026-01-01",
            ends_on="2026-12-31",
        ),
    )
    assert response.status_code == 302
    programme = db_session.exec(
        select(SubsidyProgramme).where(SubsidyProgramme.region_code == "53")
    ).one()
    programme_id = programme.id
    assert programme.status == "draft"
    assert programme.quota_mailboxes == 300 and programme.budget_cents == 500000
    assert programme.needs_approval and programme.structure_types == ["pharmacie"]
    assert programme.departments == ["29", "35"]
    base = f"/espace-region/53/programmes/{programme.id}/"
    page = soup(client.get(base))
    assert page.select_one("[data-fact=status]").get_text(strip=True) == "brouillon"
    assert "Pharmacie d'officine" in page.get_text()

    confirm = soup(client.get(base + "publier"))
    client.post(base + "publier", data={"csrf_token": csrf(confirm)})
    programme = db_session.get(SubsidyProgramme, programme_id)
    assert programme.status == "published"

    # Quota cannot fall below what orders already took.
    programme.quota_used = 12
    db_session.commit()
    page = soup(client.get(base + "modifier"))
    assert page.select_one("#quota_mailboxes")["value"] == "300"
    data = {
        i["name"]: i.get("value", "")
        for i in page.select("form input")
        if i.get("type") not in ("checkbox", "radio")
    }
    data.update(
        rule="free",
        offer_id=str(offer.id),
        structure_types=["pharmacie"],
        departments=["29", "35"],
        quota_mailboxes="10",
    )
    response = client.post(base + "modifier", data=data)
    assert response.status_code == 400
    assert "12 boîtes déjà attribuées" in soup(response).get_text()
    data["quota_mailboxes"] = "400"
    assert client.post(base + "modifier", data=data).status_code == 302
    programme = db_session.get(SubsidyProgramme, programme_id)
    assert programme.quota_mailboxes == 400

    confirm = soup(client.get(base + "fermer"))
    client.post(base + "fermer", data={"csrf_token": csrf(confirm)})
    programme = db_session.get(SubsidyProgramme, programme_id)
    assert programme.status == "closed"
    assert client.get(base + "modifier").status_code == 302  # back to the programme, with a message


def test_programme_pages_are_refused_to_other_regions_and_roles(client, db_session, region_setup):
    offer, admin = region_setup
    programme = SubsidyProgramme(
        slug="prog-bzh",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "P", "en": "P"},
        rule="free",
        status="draft",
    )
    db_session.add(programme)
    other = make_account(db_session)
    db_session.add(Membership(account_id=other.id, role=Role.REGION_ADMIN, region_code="11"))
    operator_admin = make_account(db_session)
    db_session.add(
        Membership(
            account_id=operator_admin.id, role=Role.OPERATOR_ADMIN, operator_id=offer.operator_id
        )
    )
    db_session.commit()
    base = f"/espace-region/53/programmes/{programme.id}/"
    paths = [
        "/espace-region/53/programmes/",
        "/espace-region/53/programmes/nouveau",
        base,
        base + "modifier",
        base + "publier",
        base + "fermer",
    ]
    for path in paths:
        assert "/connexion" in client.get(path).location
    for account in (other, operator_admin):
        sign_in_client(client, account)
        for path in paths:
            assert client.get(path).status_code == 403, path
    # Through their own region's URLs, another region reaches nothing of Bretagne's.
    sign_in_client(client, other)
    assert client.get(f"/espace-region/11/programmes/{programme.id}/").status_code == 404
    assert client.get(f"/espace-region/11/programmes/{programme.id}/publier").status_code == 404
    sign_in_client(client, admin)
    for path in paths:
        assert client.get(path).status_code == 200, path
