"""The region's approval queue: approve or reject, with a reason, through the state machine."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Membership, Role
from portal.catalogue.models import OfferRevision
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import quotes
from portal.subscriptions.models import Order, OrderEvent, OrderLine
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_operator, make_structure


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def waiting_order(session, programme, offer, account, n):
    structure = make_structure(
        session, department_code="29", finess=f"29999{n:04d}", name=f"Pharmacie en attente {n}"
    )
    revision = session.get(OfferRevision, offer.current_revision_id)
    quote = quotes.compute_quote(
        revision, subsidy=quotes.subsidy_terms(programme, revision, mailboxes=1)
    )
    assert quotes.reserve(session, quotes.SubsidyTerms(**quote.subsidy))
    order = Order(
        idempotency_key=f"approval-{n}",
        account_id=account.id,
        structure_id=structure.id,
        offer_revision_id=offer.current_revision_id,
        programme_id=programme.id,
        state="awaiting_approval",
        quote=quote.to_json(),
    )
    session.add(order)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            position=1,
            mailbox_type="ORG",
            address=f"officine{n}@test.mssante.fr",
        )
    )
    session.flush()
    return order


def setup(session):
    offer = make_offer(session, operator=make_operator(session), mailbox_types=["ORG"])
    programme = SubsidyProgramme(
        slug="bzh-approbation",
        region_code="53",
        offer_id=offer.id,
        name={"fr": "Officines", "en": "Pharmacies"},
        rule="free",
        quota_mailboxes=10,
        needs_approval=True,
        status="published",
    )
    session.add(programme)
    admin = make_account(session)
    session.add(Membership(account_id=admin.id, role=Role.REGION_ADMIN, region_code="53"))
    session.flush()
    return offer, programme, admin


def test_region_approves_one_order_and_rejects_another_with_a_reason(client, db_session):
    offer, programme, admin = setup(db_session)
    first = waiting_order(db_session, programme, offer, admin, 1)
    second = waiting_order(db_session, programme, offer, admin, 2)
    db_session.commit()
    assert db_session.get(SubsidyProgramme, programme.id).quota_used == 2
    sign_in_client(client, admin)

    page = soup(client.get("/espace-region/53/approbations"))
    assert "2 commandes attendent votre décision." in page.get_text(" ", strip=True)
    cards = page.select("[data-order]")
    assert [int(c["data-order"]) for c in cards] == [first.id, second.id]
    assert "Pharmacie en attente 1" in cards[0].get_text()
    token = page.select_one("input[name=csrf_token]")["value"]

    client.post(
        f"/espace-region/53/approbations/{first.id}",
        data={"csrf_token": token, "decision": "approve"},
    )
    assert db_session.get(Order, first.id).state == "provisioning"
    events = db_session.exec(
        select(OrderEvent.to_state, OrderEvent.actor)
        .where(OrderEvent.order_id == first.id)
        .order_by(OrderEvent.id)
    ).all()
    assert events[0] == ("approved", f"staff:{admin.id}")
    text = soup(client.get("/espace-region/53/approbations")).get_text(" ", strip=True)
    assert "1 commande attend votre décision. Approuvée, elle suit son cours" in text

    # A refusal needs a reason the person can read.
    response = client.post(
        f"/espace-region/53/approbations/{second.id}",
        data={"csrf_token": token, "decision": "reject", "reason": "  "},
    )
    assert "Indiquez le motif du refus" in soup(client.get(response.location)).get_text()
    assert db_session.get(Order, second.id).state == "awaiting_approval"
    client.post(
        f"/espace-region/53/approbations/{second.id}",
        data={
            "csrf_token": token,
            "decision": "reject",
            "reason": "Cette pharmacie a déjà une boîte financée.",
        },
    )
    assert db_session.get(Order, second.id).state == "rejected"
    reason = db_session.exec(
        select(OrderEvent.reason).where(
            OrderEvent.order_id == second.id, OrderEvent.to_state == "rejected"
        )
    ).one()
    assert reason == "Cette pharmacie a déjà une boîte financée."
    assert (
        db_session.get(SubsidyProgramme, programme.id).quota_used == 1
    )  # the refused share is back
    page = soup(client.get("/espace-region/53/approbations"))
    assert page.select_one("[data-testid=no-approvals]") is not None

    # Deciding twice is explained, not applied twice.
    response = client.post(
        f"/espace-region/53/approbations/{first.id}",
        data={"csrf_token": token, "decision": "reject", "reason": "x"},
    )
    assert "n’attend plus de décision" in soup(client.get(response.location)).get_text()


def test_another_region_cannot_decide(client, db_session):
    offer, programme, admin = setup(db_session)
    order = waiting_order(db_session, programme, offer, admin, 3)
    other = make_account(db_session)
    db_session.add(Membership(account_id=other.id, role=Role.REGION_ADMIN, region_code="11"))
    operator_admin = make_account(db_session)
    db_session.add(
        Membership(
            account_id=operator_admin.id, role=Role.OPERATOR_ADMIN, operator_id=offer.operator_id
        )
    )
    db_session.commit()
    sign_in_client(client, other)
    assert client.get("/espace-region/53/approbations").status_code == 403
    assert client.post(f"/espace-region/53/approbations/{order.id}").status_code in (400, 403)
    page = soup(client.get("/espace-region/11/approbations"))
    assert page.select("[data-order]") == []  # Bretagne's orders are not in Île-de-France's queue
    token = page.select_one("input[name=csrf_token]")
    if token is not None:
        response = client.post(
            f"/espace-region/11/approbations/{order.id}",
            data={"csrf_token": token["value"], "decision": "approve"},
        )
        assert response.status_code == 404
    assert db_session.get(Order, order.id).state == "awaiting_approval"
    sign_in_client(client, operator_admin)
    assert client.get("/espace-region/53/approbations").status_code == 403


def test_a_decision_other_than_approve_or_reject_is_refused_and_changes_nothing(client, db_session):
    offer, programme, admin = setup(db_session)
    order = waiting_order(db_session, programme, offer, admin, 4)
    db_session.commit()
    sign_in_client(client, admin)
    page = soup(client.get("/espace-region/53/approbations"))
    token = page.select_one("input[name=csrf_token]")["value"]
    for decision in ("", "cancel"):
        response = client.post(
            f"/espace-region/53/approbations/{order.id}",
            data={"csrf_token": token, "decision": decision, "reason": "x"},
        )
        assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(Order, order.id).state == "awaiting_approval"
