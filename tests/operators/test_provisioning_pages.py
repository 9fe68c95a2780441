"""Operator back-office: connection settings, the manual work queue, failed orders and retries."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Membership, Role
from portal.catalogue.models import Operator
from portal.provisioning.secrets import decrypt_secret
from portal.subscriptions.models import Mailbox, Order, OrderEvent, OrderLine
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_operator, make_structure


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def token_of(client, path) -> str:
    return soup(client.get(path)).select_one("input[name=csrf_token]")["value"]


@pytest.fixture
def staff(db_session):
    operator = make_operator(
        db_session, name="Opérateur manuel", mail_domains=["manuel.mssante.fr"]
    )
    offer = make_offer(db_session, operator=operator, mailbox_types=["ORG"])
    admin = make_account(db_session)
    db_session.add(
        Membership(account_id=admin.id, role=Role.OPERATOR_ADMIN, operator_id=operator.id)
    )
    db_session.commit()
    return operator, offer, admin


def order_in(session, offer, account, state, n, **values):
    structure = make_structure(session, finess=f"29998{n:04d}", department_code="29")
    order = Order(
        idempotency_key=f"op-{n}",
        account_id=account.id,
        structure_id=structure.id,
        offer_revision_id=offer.current_revision_id,
        state=state,
        **values,
    )
    session.add(order)
    session.flush()
    return order


def test_connection_settings_are_checked_stored_encrypted_and_tested(
    client, db_session, app, staff
):
    operator, _offer, admin = staff
    sign_in_client(client, admin)
    path = f"/espace-operateur/{operator.id}/raccordement"
    token = token_of(client, path)
    response = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "save",
            "kind": "mss-provisioning-v1",
            "base_url": "http://api.example.org",
            "timeout_seconds": "10",
        },
    )
    assert response.status_code == 400
    page = soup(response)
    assert "https://" in page.select_one("#champ-base_url-erreur").get_text()
    assert "jeton" in page.select_one("#champ-token-erreur").get_text()
    assert page.select_one("#champ-base_url")["value"] == "http://api.example.org"

    response = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "save",
            "kind": "mss-provisioning-v1",
            "base_url": "http://127.0.0.1:9/mss/v1",
            "timeout_seconds": "1",
            "token": "jeton-tres-secret",
        },
    )
    assert response.status_code == 302
    stored = db_session.get(Operator, operator.id)
    assert stored.adapter_kind == "mss-provisioning-v1"
    assert stored.adapter_settings["base_url"] == "http://127.0.0.1:9/mss/v1"
    assert "jeton-tres-secret" not in (stored.adapter_secret_encrypted or "")
    assert (
        decrypt_secret(app.config["PORTAL_SETTINGS"].secret_key, stored.adapter_secret_encrypted)
        == "jeton-tres-secret"
    )
    page = soup(client.get(path))
    assert "jeton-tres-secret" not in str(page)
    assert "laissez vide pour le garder" in page.get_text()

    # Nothing listens on port 9: the test says so in a sentence.
    response = client.post(path, data={"csrf_token": token, "action": "test"})
    assert "ne répond pas" in soup(client.get(response.location)).get_text()

    client.post(
        path,
        data={"csrf_token": token, "action": "save", "kind": "manual", "timeout_seconds": "10"},
    )
    assert db_session.get(Operator, operator.id).adapter_kind == "manual"
    response = client.post(path, data={"csrf_token": token, "action": "test"})
    assert "Le raccordement fonctionne" in soup(client.get(response.location)).get_text()


def test_staff_complete_a_manual_work_item(client, db_session, staff):
    operator, offer, admin = staff
    order = order_in(db_session, offer, admin, "provisioning", 1)
    mailbox = Mailbox(
        address="accueil@manuel.mssante.fr",
        type="ORG",
        operator_id=operator.id,
        structure_id=order.structure_id,
        state="pending",
    )
    db_session.add(mailbox)
    db_session.flush()
    db_session.add(
        OrderLine(
            order_id=order.id,
            position=1,
            mailbox_type="ORG",
            address=mailbox.address,
            mailbox_id=mailbox.id,
            service="Accueil",
            responsible="Jeanne Martin",
        )
    )
    db_session.commit()
    sign_in_client(client, admin)
    path = f"/espace-operateur/{operator.id}/a-traiter"
    page = soup(client.get(path))
    card = page.select_one(f'[data-mailbox="{mailbox.id}"]')
    assert "accueil@manuel.mssante.fr" in card.get_text() and "Jeanne Martin" in card.get_text()
    token = page.select_one("input[name=csrf_token]")["value"]
    response = client.post(f"{path}/{mailbox.id}", data={"csrf_token": token, "external_id": " "})
    assert "Indiquez l’identifiant" in soup(client.get(response.location)).get_text()
    client.post(f"{path}/{mailbox.id}", data={"csrf_token": token, "external_id": "EXT-42"})
    stored = db_session.get(Mailbox, mailbox.id)
    assert stored.state == "active" and stored.external_id == "EXT-42"
    assert soup(client.get(path)).select_one("[data-testid=no-work]") is not None


def test_failed_orders_are_listed_and_retried(client, db_session, staff):
    operator, offer, admin = staff
    failed = order_in(
        db_session,
        offer,
        admin,
        "needs_attention",
        2,
        attention_reason="The address is already used by another mailbox.",
    )
    active = order_in(db_session, offer, admin, "active", 3)
    db_session.commit()
    sign_in_client(client, admin)
    page = soup(client.get(f"/espace-operateur/{operator.id}/commandes?etat=needs_attention"))
    rows = page.select("[data-testid=orders] tbody tr")
    assert [int(r["data-order"]) for r in rows] == [failed.id]
    assert "already used" in rows[0].get_text()
    token = page.select_one("input[name=csrf_token]")["value"]
    client.post(
        f"/espace-operateur/{operator.id}/commandes/{failed.id}/relancer",
        data={"csrf_token": token},
    )
    assert db_session.get(Order, failed.id).state == "provisioning"
    event = db_session.exec(select(OrderEvent).where(OrderEvent.order_id == failed.id)).one()
    assert (event.from_state, event.to_state, event.actor) == (
        "needs_attention",
        "provisioning",
        f"staff:{admin.id}",
    )
    response = client.post(
        f"/espace-operateur/{operator.id}/commandes/{active.id}/relancer",
        data={"csrf_token": token},
    )
    assert "Seule une commande en échec" in soup(client.get(response.location)).get_text()


def test_another_operator_reaches_none_of_it(client, db_session, staff):
    operator, offer, admin = staff
    order = order_in(db_session, offer, admin, "needs_attention", 4)
    other_operator = make_operator(db_session)
    other = make_account(db_session)
    db_session.add(
        Membership(account_id=other.id, role=Role.OPERATOR_ADMIN, operator_id=other_operator.id)
    )
    region_admin = make_account(db_session)
    db_session.add(Membership(account_id=region_admin.id, role=Role.REGION_ADMIN, region_code="53"))
    db_session.commit()
    paths = [
        f"/espace-operateur/{operator.id}/raccordement",
        f"/espace-operateur/{operator.id}/a-traiter",
        f"/espace-operateur/{operator.id}/commandes",
    ]
    for path in paths:
        assert "/connexion" in client.get(path).location
    for account in (other, region_admin):
        sign_in_client(client, account)
        for path in paths:
            assert client.get(path).status_code == 403, path
    sign_in_client(client, other)
    page = soup(client.get(f"/espace-operateur/{other_operator.id}/commandes"))
    assert page.select("[data-order]") == []
    token = page.select_one("input[name=csrf_token]")["value"]
    response = client.post(
        f"/espace-operateur/{other_operator.id}/commandes/{order.id}/relancer",
        data={"csrf_token": token},
    )
    assert response.status_code == 404
    assert db_session.get(Order, order.id).state == "needs_attention"
