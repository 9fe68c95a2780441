"""The issue's journey, through the pages: a pharmacist orders two ORG mailboxes for the
pharmacy of their activities under a regional programme, the region approves, the operator's
staff create them, they appear under the pharmacy in the directory, and the pharmacist adds
a user to one of them."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from portal import queue
from portal.accounts.models import Activity, Membership, Role
from portal.directory.models import DirectoryEntry
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.models import Mailbox, MailboxAccess, Order, OrderLine
from tests.accounts.helpers import sign_in_client
from tests.factories import (
    make_account,
    make_offer,
    make_operator,
    make_professional,
    make_structure,
)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf(page) -> str:
    return page.select_one("input[name=csrf_token]")["value"]


def test_pharmacist_orders_two_org_mailboxes_region_approves_they_open(client, app, db_session):
    queue.runner(app).clear()
    operator = make_operator(
        db_session, name="Messagerie Bretagne", mail_domains=["bzh-officines.mssante.fr"]
    )
    offer = make_offer(
        db_session,
        operator=operator,
        slug="officines-bzh",
        name="Officines Bretagne",
        mailbox_types=["ORG"],
        price_cents=600,
    )
    programme = SubsidyProgramme(
        slug="bzh-officines-journey",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Officines bretonnes", "en": "Breton pharmacies"},
        rule="free",
        quota_mailboxes=50,
        needs_approval=True,
        structure_types=["pharmacie"],
        status="published",
    )
    db_session.add(programme)
    pharmacy = make_structure(
        db_session, name="Pharmacie du Port", finess="299996661", department_code="29", city="Brest"
    )
    pharmacist = make_professional(
        db_session, first_name="Anne", last_name="Kerbrat", profession_code="21"
    )
    db_session.add(Activity(professional_id=pharmacist.id, structure_id=pharmacy.id))
    account = make_account(db_session, professional_id=pharmacist.id, display_name="Anne Kerbrat")
    region_admin = make_account(db_session)
    db_session.add(Membership(account_id=region_admin.id, role=Role.REGION_ADMIN, region_code="53"))
    operator_admin = make_account(db_session)
    db_session.add(
        Membership(account_id=operator_admin.id, role=Role.OPERATOR_ADMIN, operator_id=operator.id)
    )
    db_session.commit()

    # 1. The pharmacist orders two ORG mailboxes; addresses are proposed from the pharmacy's name.
    sign_in_client(client, account)
    page = soup(client.get(f"/espace-structure/{pharmacy.id}/commander?offre=officines-bzh"))
    proposals = [o["value"] for o in page.select("#propositions-1 option")]
    assert "secretariat.pharmacie-du-port" in proposals
    data = {
        "csrf_token": csrf(page),
        "offre": "officines-bzh",
        "key": page.select_one("input[name=key]")["value"],
        "kind-1": "ORG",
        "service-1": "Officine",
        "local-1": "officine.pharmacie-du-port",
        "responsible-1": "Anne Kerbrat",
        "users-1": "Anne Kerbrat ; anne@example.org ; 10000000021",
        "kind-2": "ORG",
        "service-2": "Secrétariat",
        "local-2": "secretariat.pharmacie-du-port",
        "responsible-2": "Anne Kerbrat",
        "users-2": "",
    }
    bad = dict(data, **{"local-2": "officine.pharmacie-du-port"})
    response = client.post(f"/espace-structure/{pharmacy.id}/commander", data=bad)
    assert response.status_code == 400
    assert "déjà prise" in soup(response).select_one("#erreur-local-2").get_text()
    response = client.post(f"/espace-structure/{pharmacy.id}/commander", data=data)
    assert response.status_code == 302
    # Sending the same form twice places one order.
    client.post(f"/espace-structure/{pharmacy.id}/commander", data=data)
    [order] = db_session.exec(select(Order).where(Order.structure_id == pharmacy.id)).all()
    assert order.state == "awaiting_approval" and order.total_cents == 0
    assert order.programme_id == programme.id
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 2

    # 2. The region approves.
    sign_in_client(client, region_admin)
    page = soup(client.get("/espace-region/53/approbations"))
    assert "Pharmacie du Port" in page.select_one(f'[data-order="{order.id}"]').get_text()
    client.post(
        f"/espace-region/53/approbations/{order.id}",
        data={"csrf_token": csrf(page), "decision": "approve"},
    )
    assert db_session.get(Order, order.id).state == "provisioning"

    # 3. The operator (manual adapter) creates both mailboxes and enters their identifiers.
    queue.drain(app)
    sign_in_client(client, operator_admin)
    page = soup(client.get(f"/espace-operateur/{operator.id}/a-traiter"))
    items = page.select("[data-mailbox]")
    assert len(items) == 2
    for n, item in enumerate(items, start=1):
        client.post(
            f"/espace-operateur/{operator.id}/a-traiter/{item['data-mailbox']}",
            data={"csrf_token": csrf(page), "external_id": f"BZH-{n}"},
        )
    queue.drain(app)
    assert db_session.get(Order, order.id).state == "active"

    # 4. The mailboxes are listed under the pharmacy in the directory.
    entries = db_session.exec(
        select(DirectoryEntry).where(
            DirectoryEntry.address.in_(
                [
                    "officine.pharmacie-du-port@bzh-officines.mssante.fr",
                    "secretariat.pharmacie-du-port@bzh-officines.mssante.fr",
                ]
            )
        )
    ).all()
    assert len(entries) == 2
    search = client.get("/annuaire?q=Pharmacie du Port").get_data(as_text=True)
    assert "officine.pharmacie-du-port@bzh-officines.mssante.fr" in search

    # 5. The pharmacist adds a user to one of them.
    sign_in_client(client, account)
    page = soup(client.get(f"/espace-structure/{pharmacy.id}/"))
    secretariat = db_session.exec(
        select(Mailbox).where(Mailbox.address.like("secretariat.%"))
    ).one()
    assert page.select_one(f'[data-mailbox="{secretariat.address}"]') is not None
    client.post(
        f"/espace-structure/{pharmacy.id}/boites/{secretariat.id}/utilisateurs",
        data={
            "csrf_token": csrf(page),
            "name": "Yann Le Gall",
            "email": "yann@example.org",
            "role": "secretary",
        },
    )
    users = db_session.exec(
        select(MailboxAccess.email).where(MailboxAccess.mailbox_id == secretariat.id)
    ).all()
    assert "yann@example.org" in users
    lines = db_session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position)
    ).all()
    assert lines[0].users[0]["email"] == "anne@example.org"
