"""Purchase orders: choosing to pay on invoice, the printable form in HTML and PDF."""

from __future__ import annotations

import io

from bs4 import BeautifulSoup
from pypdf import PdfReader

from portal.accounts.models import Account
from portal.subscriptions.models import Order, OrderLine, PaymentMethod
from tests.accounts.helpers import sign_in_client
from tests.factories import make_account, make_offer, make_structure
from tests.payments.helpers import make_order


def structure_order(db_session, **values):
    structure = make_structure(
        db_session,
        name="MSP des Tilleuls",
        finess="750012345",
        siret="12345678900017",
        address_line="3 rue des Tilleuls",
        postal_code="75012",
        city="Paris",
    )
    offer = make_offer(db_session, price_cents=1500)
    order = make_order(
        db_session, offer=offer, structure_id=structure.id, total_cents=3600, **values
    )
    for position, address in enumerate(
        ["accueil@msp.test.mssante.fr", "secretariat@msp.test.mssante.fr"], 1
    ):
        db_session.add(
            OrderLine(order_id=order.id, position=position, mailbox_type="ORG", address=address)
        )
    db_session.commit()  # requests close the session: keep the rows past them
    return order


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_without_stripe_the_payment_page_offers_purchase_orders_with_a_notice(client, db_session):
    order = make_order(db_session, total_cents=1440)
    db_session.commit()
    sign_in_client(client, db_session.get(Account, order.account_id))
    html = page(client.get(f"/commandes/{order.id}/paiement"))
    assert "Paiement en ligne indisponible" in html.get_text()
    assert html.find("form", action=f"/commandes/{order.id}/paiement/bon-de-commande")
    assert "14,40" in html.find(attrs={"data-testid": "amount-due"}).get_text()


def test_structure_chooses_purchase_order_and_gets_the_form(client, db_session):
    order = structure_order(db_session)
    sign_in_client(client, db_session.get(Account, order.account_id))
    html = page(client.get(f"/commandes/{order.id}/paiement"))
    token = html.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        f"/commandes/{order.id}/paiement/bon-de-commande",
        data={"csrf_token": token, "number": "EJ-2026/0042"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/commandes/{order.id}/bon-de-commande")
    stored = db_session.get(Order, order.id)
    assert stored.payment_method == PaymentMethod.PURCHASE_ORDER
    assert stored.purchase_order_number == "EJ-2026/0042"

    form = page(client.get(f"/commandes/{order.id}/bon-de-commande"))
    buyer = form.find(attrs={"data-testid": "buyer"}).get_text()
    assert "MSP des Tilleuls" in buyer and "FINESS : 750012345" in buyer
    assert "SIRET : 12345678900017" in buyer and "75012 Paris" in buyer
    rows = [
        [cell.get_text(strip=True) for cell in row.find_all("td")]
        for row in form.find(attrs={"data-testid": "order-form-lines"}).tbody.find_all("tr")
    ]
    assert rows[0][1:] == ["2", "15,00\xa0€", "30,00\xa0€"]
    assert form.find(attrs={"data-testid": "total-ttc"}).get_text(strip=True) == "36,00\xa0€"
    assert "EJ-2026/0042" in form.get_text()

    pdf = client.get(f"/commandes/{order.id}/bon-de-commande.pdf")
    assert pdf.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    for expected in (
        "Bon de commande",
        "MSP des Tilleuls",
        "750012345",
        "12345678900017",
        "36,00",
        "accueil@msp.test.mssante.fr",
        "EJ-2026/0042",
    ):
        assert expected in text


def test_bad_purchase_order_number_is_shown_again_with_the_reason(client, db_session):
    order = structure_order(db_session)
    sign_in_client(client, db_session.get(Account, order.account_id))
    token = page(client.get(f"/commandes/{order.id}/paiement")).find(
        "input", attrs={"name": "csrf_token"}
    )["value"]
    response = client.post(
        f"/commandes/{order.id}/paiement/bon-de-commande",
        data={"csrf_token": token, "number": "<script>"},
    )
    assert response.status_code == 400
    html = page(response)
    assert html.find("input", attrs={"name": "number"})["value"] == "<script>"
    assert "ne peut contenir que des lettres" in html.get_text()
    assert db_session.get(Order, order.id).payment_method == PaymentMethod.NONE


def test_someone_else_cannot_see_the_order_form(client, db_session):
    order = structure_order(db_session, payment_method=PaymentMethod.PURCHASE_ORDER)
    stranger = make_account(db_session)
    db_session.commit()
    sign_in_client(client, stranger)
    assert client.get(f"/commandes/{order.id}/bon-de-commande").status_code == 404
    assert client.get(f"/commandes/{order.id}/bon-de-commande.pdf").status_code == 404
    assert client.get(f"/commandes/{order.id}/paiement").status_code == 404


def test_english_form(client, db_session):
    order = structure_order(db_session, payment_method=PaymentMethod.PURCHASE_ORDER)
    sign_in_client(client, db_session.get(Account, order.account_id))
    html = page(client.get(f"/commandes/{order.id}/bon-de-commande?lang=en"))
    assert html.find("h1").get_text() == "Purchase order"


def test_operator_staff_mark_a_purchase_order_received_then_provisioning_starts(client, db_session):
    from portal.accounts.models import Membership, Role
    from portal.payments.access import operator_of
    from portal.subscriptions.models import OrderState

    order = structure_order(db_session, payment_method=PaymentMethod.PURCHASE_ORDER)
    staff = make_account(db_session)
    db_session.add(
        Membership(
            account_id=staff.id,
            role=Role.OPERATOR_ADMIN,
            operator_id=operator_of(db_session, order),
        )
    )
    other_staff = make_account(db_session)
    db_session.add(
        Membership(
            account_id=other_staff.id,
            role=Role.OPERATOR_ADMIN,
            operator_id=make_offer(db_session).operator_id,
        )
    )
    db_session.commit()

    sign_in_client(client, other_staff)  # staff of another operator see nothing of it
    assert client.get(f"/espace-operateur/bons-de-commande/{order.id}/reception").status_code == 403
    listing = page(client.get("/espace-operateur/bons-de-commande"))
    assert listing.find(attrs={"data-testid": "purchase-orders"}) is None

    sign_in_client(client, staff)
    listing = page(client.get("/espace-operateur/bons-de-commande"))
    assert "MSP des Tilleuls" in listing.find(attrs={"data-testid": "purchase-orders"}).get_text()
    confirm = page(client.get(f"/espace-operateur/bons-de-commande/{order.id}/reception"))
    assert (
        db_session.get(Order, order.id).state == OrderState.AWAITING_PAYMENT
    )  # GET changes nothing
    token = confirm.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        f"/espace-operateur/bons-de-commande/{order.id}/reception", data={"csrf_token": token}
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Order, order.id).state == OrderState.PROVISIONING
    from portal.subscriptions import states

    [paid] = [e for e in states.events_of(db_session, order.id) if e.to_state == OrderState.PAID]
    assert paid.actor == f"staff:{staff.id}" and paid.reason == "Purchase order received"


def test_people_without_a_staff_role_cannot_see_the_purchase_orders_list(client, db_session):
    someone = make_account(db_session)
    db_session.commit()
    sign_in_client(client, someone)
    assert client.get("/espace-operateur/bons-de-commande").status_code == 403
