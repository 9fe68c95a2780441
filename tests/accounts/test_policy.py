"""One authorisation policy: every back-office route declares who may use it, and each role
gets exactly what its scope allows (allowed, forbidden, or sent to sign in)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from flask import Blueprint

from portal.accounts.models import Role
from portal.accounts.policy import PROTECTED_PREFIXES, allow, unprotected_routes
from portal.app import create_app
from tests.accounts.conftest import make_staff
from tests.accounts.helpers import sign_in_client
from tests.factories import make_operator


def test_every_back_office_route_declares_a_policy(app):
    protected = [
        r.rule for r in app.url_map.iter_rules() if (r.rule + "/").startswith(PROTECTED_PREFIXES)
    ]
    assert len(protected) >= 10
    assert unprotected_routes(app) == []


def test_a_route_without_policy_is_found_by_the_walk_and_refused(settings, app):
    careless = create_app(settings)
    forgotten = Blueprint("forgotten", __name__)

    @forgotten.get("/espace-region/oubli")
    def oubli():
        return "open"

    @forgotten.get("/espace-structure/<int:structure_id>/oubli")
    def oubli_structure(structure_id):
        return "open"

    careless.register_blueprint(forgotten)
    assert unprotected_routes(careless) == [
        "/espace-region/oubli",
        "/espace-structure/<int:structure_id>/oubli",
    ]
    assert careless.test_client().get("/espace-region/oubli").status_code == 403
    assert careless.test_client().get("/espace-structure/1/oubli").status_code == 403


def test_allow_needs_a_role():
    with pytest.raises(ValueError):
        allow()


@pytest.fixture
def people(db_session):
    """One account per role (region 84 = Auvergne-Rhône-Alpes, 53 = Bretagne)."""
    operator = make_operator(db_session)
    other_operator = make_operator(db_session)
    people = {
        "platform": make_staff(db_session, Role.PLATFORM_ADMIN),
        "region84": make_staff(db_session, Role.REGION_ADMIN, region_code="84"),
        "operator": make_staff(db_session, Role.OPERATOR_ADMIN, operator_id=operator.id),
        "nobody": make_staff(db_session),
        "_operator": operator,
        "_other_operator": other_operator,
    }
    db_session.commit()  # requests close the shared session: keep the rows past the first one
    return people


def routes(people):
    operator, other = people["_operator"].id, people["_other_operator"].id
    return {
        "/admin/": {"platform"},
        "/admin/comptes": {"platform"},
        "/admin/invitations": {"platform"},
        "/espace-region/84/": {"platform", "region84"},
        "/espace-region/53/": {"platform"},
        f"/espace-operateur/{operator}/": {"platform", "operator"},
        f"/espace-operateur/{other}/": {"platform"},
        "/espace-region/": {"platform", "region84"},
        "/espace-operateur/": {"platform", "operator"},
    }


def test_role_matrix(app, db_session, people):
    for path, allowed in routes(people).items():
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302, path
        assert anonymous.location.startswith("/connexion?next="), path
        for who in ("platform", "region84", "operator", "nobody"):
            client = app.test_client()
            sign_in_client(client, people[who])
            status = client.get(path).status_code
            if who in allowed:
                assert status in (200, 302), (path, who, status)
            else:
                assert status == 403, (path, who, status)


def test_a_region_admin_sees_their_region_and_its_members_only(app, db_session, people):
    colleague = make_staff(db_session, Role.REGION_ADMIN, region_code="84")
    outsider = make_staff(db_session, Role.REGION_ADMIN, region_code="53")
    db_session.commit()
    client = app.test_client()
    sign_in_client(client, people["region84"])
    landing = client.get("/espace-region/")
    assert landing.location == "/espace-region/84/"
    html = BeautifulSoup(client.get("/espace-region/84/").get_data(as_text=True), "html.parser")
    assert "Auvergne-Rhône-Alpes" in html.h1.get_text()
    assert "Rhône (69)" in html.get_text()
    members = html.select_one("#membres").get_text()
    assert colleague.display_name in members and people["region84"].display_name in members
    assert outsider.display_name not in members


def test_an_operator_admin_sees_their_operator_and_its_offers(app, db_session, people):
    client = app.test_client()
    sign_in_client(client, people["operator"])
    landing = client.get("/espace-operateur/")
    assert landing.location == f"/espace-operateur/{people['_operator'].id}/"
    html = BeautifulSoup(client.get(landing.location).get_data(as_text=True), "html.parser")
    assert people["_operator"].name in html.h1.get_text()
    assert people["operator"].display_name in html.select_one("#membres").get_text()


def test_a_platform_admin_chooses_among_every_region(app, db_session, people):
    client = app.test_client()
    sign_in_client(client, people["platform"])
    html = BeautifulSoup(client.get("/espace-region/").get_data(as_text=True), "html.parser")
    assert len(html.select("#regions li")) == 18


def test_a_professional_manages_the_structures_of_their_activities(app_context, db_session):
    from sqlmodel import select

    from portal.accounts.models import Activity, Professional
    from portal.accounts.policy import can_manage_structure
    from tests.factories import make_account, make_structure

    pharmacist = db_session.exec(
        select(Professional).where(Professional.idnps == "810100000037")
    ).one()
    account = make_account(db_session, professional_id=pharmacist.id)
    pharmacy_id = db_session.exec(
        select(Activity.structure_id).where(Activity.professional_id == pharmacist.id)
    ).one()
    elsewhere = make_structure(db_session)
    delegate = make_staff(db_session, Role.STRUCTURE_MANAGER, structure_id=elsewhere.id)
    assert can_manage_structure(db_session, account, pharmacy_id)
    assert not can_manage_structure(db_session, account, elsewhere.id)
    assert can_manage_structure(db_session, delegate, elsewhere.id)
    assert not can_manage_structure(db_session, delegate, pharmacy_id)
    assert not can_manage_structure(db_session, None, pharmacy_id)


def test_a_region_s_perimeter_is_counted_in_words_that_agree(app, db_session, people):
    client = app.test_client()
    sign_in_client(client, people["platform"])

    def perimeter(code: str) -> str:
        html = BeautifulSoup(
            client.get(f"/espace-region/{code}/").get_data(as_text=True), "html.parser"
        )
        return html.select_one("#perimetre").get_text(" ", strip=True)

    # Guadeloupe is a region of one département; Auvergne-Rhône-Alpes has twelve.
    assert perimeter("01").startswith("Région Guadeloupe (code 01) : 1 département, ")
    assert perimeter("84").startswith("Région Auvergne-Rhône-Alpes (code 84) : 12 départements, ")
