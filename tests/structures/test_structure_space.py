"""A structure's space: its mailboxes and orders, and who may use each mailbox."""

from __future__ import annotations

from bs4 import BeautifulSoup
from sqlmodel import select

from portal import queue
from portal.accounts.models import Activity
from portal.provisioning.models import ProvisioningAttempt
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


def pharmacy_with_mailbox(session):
    operator = make_operator(session, mail_domains=["officine.mssante.fr"])
    offer = make_offer(session, operator=operator, mailbox_types=["ORG"], name="Offre officine")
    pharmacy = make_structure(
        session, name="Pharmacie des Lices", finess="359997771", department_code="35"
    )
    pharmacist = make_professional(session, profession_code="21")
    session.add(Activity(professional_id=pharmacist.id, structure_id=pharmacy.id))
    account = make_account(session, professional_id=pharmacist.id)
    order = Order(
        idempotency_key="structure-space",
        account_id=account.id,
        structure_id=pharmacy.id,
        offer_revision_id=offer.current_revision_id,
        state="active",
    )
    session.add(order)
    session.flush()
    mailbox = Mailbox(
        address="officine.lices@officine.mssante.fr",
        type="ORG",
        operator_id=operator.id,
        structure_id=pharmacy.id,
        external_id="EXT-1",
        state="active",
        service="Officine",
    )
    session.add(mailbox)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            position=1,
            mailbox_type="ORG",
            address=mailbox.address,
            mailbox_id=mailbox.id,
        )
    )
    session.add(
        MailboxAccess(mailbox_id=mailbox.id, name="Paul Titulaire", email="paul@example.org")
    )
    session.commit()
    return pharmacy, mailbox, account


def test_pharmacist_adds_and_removes_a_user(client, app, db_session):
    pharmacy, mailbox, account = pharmacy_with_mailbox(db_session)
    queue.runner(app).clear()
    sign_in_client(client, account)
    index = soup(client.get("/espace-structure/"))
    assert index.find("a", href=f"/espace-structure/{pharmacy.id}/") is not None
    base = f"/espace-structure/{pharmacy.id}/"
    page = soup(client.get(base))
    card = page.select_one(f'[data-mailbox="{mailbox.address}"]')
    assert "Paul Titulaire" in card.select_one("[data-testid=users]").get_text()
    assert "Offre officine" in page.select_one("[data-testid=structure-orders]").get_text()
    token = page.select_one("input[name=csrf_token]")["value"]
    add = f"{base}boites/{mailbox.id}/utilisateurs"

    # A mistake is explained, and what was typed is offered again.
    response = client.post(
        add,
        data={
            "csrf_token": token,
            "name": "Léa Préparatrice",
            "email": "lea@",
            "rpps": "123",
            "role": "secretary",
        },
    )
    page = soup(client.get(response.location))
    assert "adresse e-mail valide" in page.get_text() and "11 chiffres" in page.get_text()
    assert page.select_one(f"#nom-{mailbox.id}")["value"] == "Léa Préparatrice"

    response = client.post(
        add,
        data={
            "csrf_token": token,
            "name": "Léa Préparatrice",
            "email": "lea@example.org",
            "rpps": "",
            "role": "secretary",
        },
    )
    page = soup(client.get(response.location))
    assert "Léa Préparatrice peut utiliser officine.lices@officine.mssante.fr" in page.get_text()
    assert "Léa Préparatrice" in page.select_one("[data-testid=users]").get_text()
    # The operator receives the whole list.
    assert queue.drain(app) >= 1
    attempts = db_session.exec(
        select(ProvisioningAttempt).where(
            ProvisioningAttempt.mailbox_id == mailbox.id, ProvisioningAttempt.action == "set_access"
        )
    ).all()
    assert [a.outcome for a in attempts] == ["success"]

    response = client.post(
        add, data={"csrf_token": token, "name": "Léa", "email": "LEA@example.org", "role": "user"}
    )
    assert "utilise déjà cette boîte" in soup(client.get(response.location)).get_text()

    lea = db_session.exec(
        select(MailboxAccess).where(MailboxAccess.email == "lea@example.org")
    ).one()
    remove = f"{base}boites/{mailbox.id}/utilisateurs/{lea.id}/retirer"
    confirm = soup(client.get(remove))
    assert "ne pourra plus lire ni envoyer" in confirm.get_text()
    client.post(remove, data={"csrf_token": confirm.select_one("input[name=csrf_token]")["value"]})
    emails = db_session.exec(
        select(MailboxAccess.email).where(MailboxAccess.mailbox_id == mailbox.id)
    ).all()
    assert emails == ["paul@example.org"]


def test_only_the_structures_managers_get_in(client, db_session):
    pharmacy, mailbox, _account = pharmacy_with_mailbox(db_session)
    stranger = make_account(db_session, professional_id=make_professional(db_session).id)
    other = make_structure(db_session, finess="359997772", department_code="35")
    db_session.commit()
    base = f"/espace-structure/{pharmacy.id}/"
    assert "/connexion" in client.get(base).location
    sign_in_client(client, stranger)
    assert client.get(base).status_code == 403
    assert client.post(f"{base}boites/{mailbox.id}/utilisateurs").status_code in (400, 403)
    assert client.get(f"{base}boites/{mailbox.id}/utilisateurs/1/retirer").status_code == 403
    assert soup(client.get("/espace-structure/")).select_one("[data-testid=structures]") is None
    # A mailbox of the pharmacy is not reachable through another structure's address.
    sign_in_client(client, _account)
    assert client.get(f"/espace-structure/{other.id}/").status_code == 403


def test_the_manager_sees_the_structure_invoices_and_purchase_orders(client, app, db_session):
    from portal.payments.models import PaymentEvent

    pharmacy, _mailbox, account = pharmacy_with_mailbox(db_session)
    offer_revision_id = db_session.exec(select(Order.offer_revision_id)).first()

    def order(key: str, structure_id: int, **values) -> Order:
        placed = Order(
            idempotency_key=key,
            account_id=account.id,
            structure_id=structure_id,
            offer_revision_id=offer_revision_id,
            **values,
        )
        db_session.add(placed)
        db_session.flush()
        return placed

    by_card = order("by-card", pharmacy.id, state="active", payment_method="card")
    on_form = order(
        "on-form",
        pharmacy.id,
        state="awaiting_payment",
        payment_method="purchase_order",
        total_cents=1440,
    )
    elsewhere = order("elsewhere", make_structure(db_session).id, state="active")

    def invoice_event(event_id: str, order_id: int, **invoice) -> PaymentEvent:
        return PaymentEvent(
            stripe_event_id=event_id,
            type="invoice.paid" if invoice.get("status") == "paid" else "invoice.finalized",
            order_id=order_id,
            payload={"id": event_id, "data": {"object": {"object": "invoice", **invoice}}},
        )

    first = {
        "id": "in_lices",
        "number": "MSS-0001",
        "total": 1440,
        "total_excluding_tax": 1200,
        "currency": "eur",
        "created": 1767225600,  # 2026-01-01
        "hosted_invoice_url": "https://invoice.stripe.test/in_lices",
    }
    db_session.add(invoice_event("evt_1", by_card.id, status="open", **first))
    db_session.add(invoice_event("evt_2", by_card.id, status="paid", **first))
    db_session.add(
        invoice_event("evt_3", elsewhere.id, status="paid", id="in_other", number="MSS-0002")
    )
    on_form_id = on_form.id
    db_session.commit()

    sign_in_client(client, account)
    page = soup(client.get(f"/espace-structure/{pharmacy.id}/"))
    table = page.select_one("[data-testid=structure-invoices]")
    rows = {row["data-invoice"]: row for row in table.select("tbody tr")}
    assert set(rows) == {"MSS-0001", f"BC-{dt_year()}-{on_form_id:06d}"}
    cells = [
        " ".join(c.get_text(" ", strip=True).replace("\u202f", " ").split())
        for c in rows["MSS-0001"].find_all(["th", "td"])
    ]
    assert cells[2:6] == ["01/01/2026", "12,00 €", "14,40 €", "Payée"]
    assert rows["MSS-0001"].a["href"] == "https://invoice.stripe.test/in_lices"
    form_row = rows[f"BC-{dt_year()}-{on_form_id:06d}"]
    assert "Bon de commande à envoyer" in form_row.get_text()
    pdf = form_row.a["href"]
    assert pdf == f"/commandes/{on_form_id}/bon-de-commande.pdf"
    response = client.get(pdf)
    assert response.status_code == 200 and response.mimetype == "application/pdf"


def dt_year() -> int:
    import datetime as dt

    return dt.datetime.now(dt.UTC).year
