"""The account page, and staff linking their Pro Santé Connect identity to their account."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Account, Professional, Role
from tests.accounts import psc_flow
from tests.accounts.conftest import make_staff
from tests.accounts.helpers import sign_in_client


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def signed_in(client):
    with client.session_transaction() as flask_session:
        return flask_session.get("account_id")


def test_the_account_page_needs_a_sign_in(client):
    response = client.get("/compte")
    assert response.location == "/connexion?next=%2Fcompte"


def test_a_professional_sees_their_identity_and_structures(psc_client):
    psc_flow.sign_in(psc_client, "medecin-hopital-cabinet")
    html = page(psc_client.get("/compte"))
    assert "810100000045" in html.select_one("#identite-professionnelle").get_text()
    structures = html.select_one("#structures").get_text()
    assert (
        "CENTRE HOSPITALIER DEMO DE MARSEILLE" in structures
        and "SIRET 90000000200019" in structures
    )
    assert html.select_one("#lier-psc") is None


def test_staff_link_psc_then_sign_in_with_it(psc_app, psc_client, psc_db_session):
    staff = make_staff(psc_db_session, Role.REGION_ADMIN, region_code="84")
    psc_db_session.commit()
    sign_in_client(psc_client, staff)
    html = page(psc_client.get("/compte"))
    assert (
        "Administrateur·rice régional·e — Auvergne-Rhône-Alpes"
        in html.select_one("#roles").get_text()
    )
    start = psc_client.get(html.select_one("#lier-psc")["href"])
    callback = psc_flow.authorize(start.location, "infirmiere-msp")
    linked = psc_client.get(psc_flow.callback_path(callback))
    assert linked.location == "/compte"
    nurse = psc_db_session.exec(
        select(Professional).where(Professional.idnps == "810100000029")
    ).one()
    assert psc_db_session.get(Account, staff.id).professional_id == nurse.id

    fresh = psc_app.test_client()
    psc_flow.sign_in(fresh, "infirmiere-msp")
    assert signed_in(fresh) == staff.id
    assert fresh.get("/espace-region/84/").status_code == 200


def test_an_identity_already_used_by_another_staff_account_is_not_linked(
    psc_client, psc_db_session
):
    pharmacist = psc_db_session.exec(
        select(Professional).where(Professional.idnps == "810100000037")
    ).one()
    owner = make_staff(psc_db_session, Role.PLATFORM_ADMIN)
    owner.professional_id = pharmacist.id
    other = make_staff(psc_db_session, Role.REGION_ADMIN, region_code="53")
    psc_db_session.commit()
    sign_in_client(psc_client, other)
    start = psc_client.get("/compte/lier-psc")
    response = psc_client.get(
        psc_flow.callback_path(psc_flow.authorize(start.location, "pharmacien-titulaire"))
    )
    assert response.status_code == 400
    assert "déjà liée à un autre compte" in page(response).h1.get_text()
    assert psc_db_session.get(Account, other.id).professional_id is None
    assert signed_in(psc_client) is None
