"""Region dashboard: orders, mailboxes, quotas, the funnel, and its CSV exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

from bs4 import BeautifulSoup

from portal.accounts.models import Membership, Role
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.models import Mailbox, Order, OrderEvent, OrderLine
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_operator, make_structure

T0 = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def table_of(page, chart_id):
    rows = page.select(f'[data-chart="{chart_id}"] table tbody tr')
    return {row.th.get_text(strip=True): row.td.get_text(strip=True) for row in rows}


def rows_of(response):
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def order_for(session, account, structure, offer, programme, state, hours=None, lines=2):
    order = Order(
        idempotency_key=f"dash-{structure.id}-{state}",
        account_id=account.id,
        structure_id=structure.id,
        offer_revision_id=offer.current_revision_id,
        programme_id=programme.id if programme else None,
        state=state,
        created_at=T0,
        submitted_at=T0,
    )
    session.add(order)
    session.flush()
    for position in range(1, lines + 1):
        address = f"accueil{position}.{structure.id}@test.mssante.fr"
        session.add(
            OrderLine(order_id=order.id, position=position, mailbox_type="ORG", address=address)
        )
        if hours is not None:
            session.add(
                Mailbox(
                    address=address,
                    type="ORG",
                    operator_id=offer.operator_id,
                    structure_id=structure.id,
                    state="active",
                    activated_at=T0 + dt.timedelta(hours=hours),
                )
            )
    if hours is not None:
        session.add(
            OrderEvent(
                order_id=order.id,
                from_state="provisioning",
                to_state="active",
                actor="system",
                created_at=T0 + dt.timedelta(hours=hours),
            )
        )
    session.flush()
    return order


def test_dashboard_shows_the_regions_orders_mailboxes_quota_and_funnel(client, db_session):
    offer = make_offer(
        db_session, operator=make_operator(db_session), slug="offre-tableau", mailbox_types=["ORG"]
    )
    programme = SubsidyProgramme(
        slug="bzh-pharmacies",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Pharmacies", "en": "Pharmacies"},
        rule="free",
        quota_mailboxes=10,
        quota_used=4,
    )
    db_session.add(programme)
    admin = make_account(db_session)
    db_session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53"))
    db_session.flush()
    brest = make_structure(
        db_session, department_code="29", name="Pharmacie de Brest", finess="299990011"
    )
    rennes = make_structure(
        db_session, department_code="35", name='=HYPERLINK("x")', finess="359990011"
    )
    paris = make_structure(db_session, department_code="75", finess="759990011")
    order_for(db_session, admin, brest, offer, programme, "active", hours=3)
    order_for(db_session, admin, rennes, offer, programme, "awaiting_approval")
    order_for(db_session, admin, paris, offer, None, "active", hours=1)  # another region's
    db_session.commit()
    for _ in range(3):
        assert client.get("/offres/offre-tableau").status_code == 200

    sign_in_client(client, admin)
    landing = soup(client.get("/espace-region/53/"))
    assert landing.find("a", href="/espace-region/53/tableau-de-bord") is not None
    page = soup(client.get("/espace-region/53/tableau-de-bord"))
    assert page.select_one('[data-figure="orders"]').get_text(strip=True) == "2"
    assert page.select_one('[data-figure="active"]').get_text(strip=True) == "2"
    assert "3" in page.select_one('[data-figure="median-time"]').get_text()
    assert table_of(page, "commandes-par-etat") == {"En attente d’approbation": "1", "Active": "1"}
    assert table_of(page, "boites-par-type")["Organisationnelle (ORG)"] == "2"
    by_department = table_of(page, "boites-par-departement")
    assert by_department["Finistère (29)"] == "2" and by_department["Ille-et-Vilaine (35)"] == "0"
    assert table_of(page, "entonnoir") == {
        "Vues des offres financées": "3",
        "Commandes passées": "2",
        "Boîtes aux lettres demandées": "4",
        "Boîtes aux lettres actives": "2",
    }
    quota_row = page.select_one("[data-testid=quotas] tbody tr")
    assert [td.get_text(strip=True) for td in quota_row.select("td")][-3:] == ["4", "10", "40 %"]

    figures = rows_of(client.get("/espace-region/53/tableau-de-bord.csv"))
    assert ["boites_actives_par_departement", "29", "Finistère", "2"] in figures
    assert ["entonnoir", "views", "Vues des offres financées", "3"] in figures
    orders = rows_of(client.get("/espace-region/53/commandes.csv"))
    assert len(orders) == 3  # header and the region's two orders, not Paris's
    assert orders[1][3] == "Pharmacie de Brest" and orders[1][10] == "2"
    assert orders[2][3] == '\'=HYPERLINK("x")'  # a formula in a CSV cell is neutralised


def test_empty_dashboard_says_so(client, db_session):
    admin = make_account(db_session)
    db_session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="94"))
    db_session.commit()
    sign_in_client(client, admin)
    page = soup(client.get("/espace-region/94/tableau-de-bord"))
    assert page.select_one("[data-testid=dashboard-empty]") is not None
    assert page.select_one('[data-figure="median-time"]').get_text(strip=True) == "non mesuré"


def test_dashboard_and_exports_are_refused_to_other_regions_and_roles(client, db_session):
    admin = make_account(db_session)
    db_session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53"))
    operator_admin = make_account(db_session)
    operator = make_operator(db_session)
    db_session.add(
        Membership(account_id=operator_admin.id, role=Role.OPERATOR_ADMIN, operator_id=operator.id)
    )
    db_session.commit()
    paths = [
        "/espace-region/11/tableau-de-bord",
        "/espace-region/11/tableau-de-bord.csv",
        "/espace-region/11/commandes.csv",
    ]
    for path in paths:
        assert "/connexion" in client.get(path).location
    for account in (admin, operator_admin):
        sign_in_client(client, account)
        for path in paths:
            assert client.get(path).status_code == 403, path
