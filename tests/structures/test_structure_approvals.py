"""An order placed for a structure by someone its PSC activities do not list waits for a
decision: by the structure's region, or by another manager of the structure."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from portal import queue
from portal.accounts.models import Activity, Membership, Role
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.models import Order, OrderEvent
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


def msp_with_people(session, *, programme_needs_approval: bool | None = None):
    operator = make_operator(session, mail_domains=["msp.mssante.fr"])
    offer = make_offer(
        session, operator=operator, slug="msp-gratuite", mailbox_types=["ORG"], price_cents=0
    )
    if programme_needs_approval is not None:
        session.add(
            SubsidyProgramme(
                slug="msp-bretagne",
                region_code="53",
                offer_id=offer.id,
                name={"fr": "MSP bretonnes", "en": "Breton MSPs"},
                rule="free",
                quota_mailboxes=10,
                needs_approval=programme_needs_approval,
                status="published",
            )
        )
    msp = make_structure(
        session, name="MSP de l’Odet", finess="299995551", department_code="29", type="msp"
    )
    doctor = make_professional(session, first_name="Yann", last_name="Le Goff")
    session.add(Activity(professional_id=doctor.id, structure_id=msp.id))
    people = {
        "doctor": make_account(session, professional_id=doctor.id, display_name="Yann Le Goff"),
        "delegate": make_account(session, display_name="Coordinatrice déléguée"),
        "other_delegate": make_account(session, display_name="Autre déléguée"),
        "region": make_account(session, display_name="ARS Bretagne"),
    }
    for who in ("delegate", "other_delegate"):
        session.add(
            Membership(account_id=people[who].id, role=Role.STRUCTURE_MANAGER, structure_id=msp.id)
        )
    session.add(
        Membership(account_id=people["region"].id, role=Role.REGION_ADMIN, region_code="53")
    )
    session.commit()
    return msp, people


def order_as(client, account, msp, local: str) -> Order:
    sign_in_client(client, account)
    page = soup(client.get(f"/espace-structure/{msp.id}/commander?offre=msp-gratuite"))
    response = client.post(
        f"/espace-structure/{msp.id}/commander",
        data={
            "csrf_token": csrf(page),
            "offre": "msp-gratuite",
            "key": page.select_one("input[name=key]")["value"],
            "kind-1": "ORG",
            "service-1": "Secrétariat",
            "local-1": local,
            "responsible-1": "Yann Le Goff",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def the_order(db_session, msp, local: str) -> Order:
    db_session.expire_all()
    return db_session.exec(
        select(Order)
        .where(Order.structure_id == msp.id, Order.idempotency_key.like("org-%"))
        .order_by(Order.id.desc())
    ).first()


def test_a_professional_of_the_structure_orders_directly(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session)
    order_as(client, people["doctor"], msp, "secretariat.odet")
    order = the_order(db_session, msp, "secretariat.odet")
    assert order.state == "provisioning"


def test_a_delegate_orders_and_another_manager_approves(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session)
    response = order_as(client, people["delegate"], msp, "secretariat.odet")
    page = soup(client.get(response.location))
    assert "attend la validation de la région ou d’un autre responsable" in page.get_text()
    order = the_order(db_session, msp, "secretariat.odet")
    order_id = order.id
    assert order.state == "awaiting_approval"
    # The orderer cannot approve their own order: the page says who will.
    card = page.select_one(f'[data-pending-order="{order_id}"]')
    assert card.select_one("[data-testid=waiting-for-other]") is not None
    assert card.select_one("form") is None
    refused = client.post(
        f"/espace-structure/{msp.id}/commandes/{order_id}/decision",
        data={"csrf_token": csrf(page), "decision": "approve"},
    )
    assert "un autre responsable" in soup(client.get(refused.location)).get_text()
    assert the_order(db_session, msp, "secretariat.odet").state == "awaiting_approval"

    # The doctor, whose PSC activities list the MSP, approves it from the structure space.
    sign_in_client(client, people["doctor"])
    page = soup(client.get(f"/espace-structure/{msp.id}/"))
    card = page.select_one(f'[data-pending-order="{order_id}"]')
    assert "secretariat.odet@msp.mssante.fr" in card.get_text()
    response = client.post(
        card.select_one("form")["action"], data={"csrf_token": csrf(page), "decision": "approve"}
    )
    assert f"Commande n° {order_id} approuvée." in soup(client.get(response.location)).get_text()
    order = the_order(db_session, msp, "secretariat.odet")
    order_id = order.id
    assert order.state == "provisioning"
    events = db_session.exec(select(OrderEvent).where(OrderEvent.order_id == order_id)).all()
    assert any(
        e.to_state == "approved" and e.actor == f"staff:{people['doctor'].id}" for e in events
    )


def test_a_manager_rejects_with_a_reason_and_the_reason_is_required(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session)
    order_as(client, people["delegate"], msp, "accueil.odet")
    order = the_order(db_session, msp, "accueil.odet")
    order_id = order.id
    sign_in_client(client, people["other_delegate"])
    page = soup(client.get(f"/espace-structure/{msp.id}/"))
    action = page.select_one(f'[data-pending-order="{order_id}"] form')["action"]
    response = client.post(action, data={"csrf_token": csrf(page), "decision": "reject"})
    assert "Indiquez le motif du refus" in soup(client.get(response.location)).get_text()
    assert the_order(db_session, msp, "accueil.odet").state == "awaiting_approval"
    client.post(
        action,
        data={"csrf_token": csrf(page), "decision": "reject", "reason": "Boîte déjà demandée."},
    )
    order = the_order(db_session, msp, "accueil.odet")
    order_id = order.id
    assert order.state == "rejected"
    rejected = db_session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.to_state == "rejected")
    ).one()
    assert rejected.reason == "Boîte déjà demandée."


def test_the_region_of_the_structure_sees_and_approves_it(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session)
    order_as(client, people["delegate"], msp, "contact.odet")
    order = the_order(db_session, msp, "contact.odet")
    order_id = order.id
    sign_in_client(client, people["region"])
    page = soup(client.get("/espace-region/53/approbations"))
    card = page.select_one(f'[data-order="{order_id}"]')
    assert "hors programme régional" in card.get_text()
    assert card.select_one("[data-testid=approval-why]") is not None
    # Another region neither sees it nor can decide it.
    other = make_account(db_session)
    db_session.add(Membership(account_id=other.id, role=Role.REGION_ADMIN, region_code="84"))
    db_session.commit()
    sign_in_client(client, other)
    assert f'data-order="{order_id}"' not in client.get("/espace-region/84/approbations").get_data(
        as_text=True
    )
    other_page = soup(client.get("/espace-region/84/approbations"))
    assert (
        client.post(
            f"/espace-region/84/approbations/{order_id}",
            data={"csrf_token": csrf(other_page), "decision": "approve"},
        ).status_code
        == 404
    )
    sign_in_client(client, people["region"])
    page = soup(client.get("/espace-region/53/approbations"))
    client.post(
        f"/espace-region/53/approbations/{order_id}",
        data={"csrf_token": csrf(page), "decision": "approve"},
    )
    assert the_order(db_session, msp, "contact.odet").state == "provisioning"


def test_under_a_programme_that_needs_approval_only_the_region_decides(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session, programme_needs_approval=True)
    order_as(client, people["delegate"], msp, "secretariat.odet")
    order = the_order(db_session, msp, "secretariat.odet")
    order_id = order.id
    assert order.state == "awaiting_approval" and order.programme_id is not None
    sign_in_client(client, people["doctor"])
    page = soup(client.get(f"/espace-structure/{msp.id}/"))
    card = page.select_one(f'[data-pending-order="{order_id}"]')
    assert card.select_one("[data-testid=waiting-for-region]") is not None
    response = client.post(
        f"/espace-structure/{msp.id}/commandes/{order_id}/decision",
        data={"csrf_token": csrf(page), "decision": "approve"},
    )
    assert "seule la région peut la valider" in soup(client.get(response.location)).get_text()
    assert the_order(db_session, msp, "secretariat.odet").state == "awaiting_approval"


def test_a_manager_cannot_decide_an_order_of_another_structure(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session)
    order_as(client, people["delegate"], msp, "secretariat.odet")
    order = the_order(db_session, msp, "secretariat.odet")
    order_id = order.id
    elsewhere = make_structure(db_session, department_code="29")
    manager = make_account(db_session)
    db_session.add(
        Membership(account_id=manager.id, role=Role.STRUCTURE_MANAGER, structure_id=elsewhere.id)
    )
    db_session.commit()
    sign_in_client(client, manager)
    page = soup(client.get(f"/espace-structure/{elsewhere.id}/"))
    # Through their own structure's URL: the order is not theirs (404).
    assert (
        client.post(
            f"/espace-structure/{elsewhere.id}/commandes/{order_id}/decision",
            data={"csrf_token": csrf(page), "decision": "approve"},
        ).status_code
        == 404
    )
    # Through the MSP's URL: not a manager there (403).
    assert (
        client.post(
            f"/espace-structure/{msp.id}/commandes/{order_id}/decision",
            data={"csrf_token": csrf(page), "decision": "approve"},
        ).status_code
        == 403
    )
    assert the_order(db_session, msp, "secretariat.odet").state == "awaiting_approval"


def test_in_english(client, app, db_session):
    queue.runner(app).clear()
    msp, people = msp_with_people(db_session)
    order_as(client, people["delegate"], msp, "secretariat.odet")
    sign_in_client(client, people["doctor"])
    text = client.get(f"/espace-structure/{msp.id}/?lang=en").get_data(as_text=True)
    assert "Orders to approve" in text and "Approve" in text
