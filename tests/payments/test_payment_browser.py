"""Chromium pays by card (3-D Secure) and by SEPA debit against localstripe; orders end active."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlmodel import Session

from portal.accounts.models import Account, Professional, Structure
from portal.catalogue.models import OfferRevision
from portal.db import database
from portal.subscriptions.models import Order, OrderLine, OrderState
from tests.factories import make_offer
from tests.payments.live import live_paying_portal
from tests.provisioning.helpers import sandbox_operator, start_sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    directory = tmp_path_factory.mktemp("payments_browser")
    sandbox = start_sandbox(directory / "operator.sqlite3")
    try:
        with live_paying_portal(directory, "payments_browser") as live:
            live.sandbox = sandbox
            yield live
    finally:
        sandbox.stop()


def awaiting_order(portal, *, last_name: str, structure: bool = False) -> tuple[int, int]:
    """A paid offer's order waiting for payment, for a professional with an account."""
    app = portal.app
    with Session(database(app).engine) as session:
        operator = sandbox_operator(session, app.config["PORTAL_SETTINGS"], portal.sandbox)
        offer = make_offer(session, operator=operator, price_cents=1000)
        professional = Professional(
            idnps=f"8{uuid.uuid4().int % 10**11:011d}",
            first_name="Marie",
            last_name=last_name,
            profession_code="10",
        )
        session.add(professional)
        session.flush()
        account = Account(
            display_name=f"Marie {last_name}",
            email=f"{last_name.lower()}@example.org",
            professional_id=professional.id,
        )
        session.add(account)
        session.flush()
        revision = session.get(OfferRevision, offer.current_revision_id)
        order = Order(
            idempotency_key=uuid.uuid4().hex,
            account_id=account.id,
            professional_id=professional.id,
            offer_revision_id=revision.id,
            state=OrderState.AWAITING_PAYMENT,
            total_cents=1200,
        )
        if structure:
            pharmacy = Structure(
                name=f"Pharmacie {last_name}", type="pharmacie", department_code="75"
            )
            session.add(pharmacy)
            session.flush()
            order.structure_id = pharmacy.id
        session.add(order)
        session.flush()
        session.add(
            OrderLine(
                order_id=order.id,
                mailbox_type="PER",
                address=f"marie.{last_name.lower()}@{operator.mail_domains[0]}",
            )
        )
        session.commit()
        return order.id, account.id


def signed_in_page(chromium, portal, account_id: int):
    """A browser page whose session cookie says ``account_id`` is signed in."""
    app = portal.app
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = serializer.dumps({"account_id": account_id, "sign_in_method": "test"})
    context = chromium.new_context(locale="fr-FR")
    context.add_cookies(
        [{"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "url": portal.url}]
    )
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page, violations


def wait_for_state(portal, order_id: int, wanted: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        with Session(database(portal.app).engine) as session:
            state = session.get(Order, order_id).state
        if state == wanted:
            return state
        time.sleep(0.2)
    return state


def test_card_with_3d_secure_pays_and_the_mailbox_opens(portal, chromium):
    order_id, account_id = awaiting_order(portal, last_name="Carte")
    page, violations = signed_in_page(chromium, portal, account_id)
    page.goto(f"{portal.url}/commandes/{order_id}/paiement")
    page.fill("#carte-nom", "Marie Carte")
    element = page.locator("#carte-element")
    element.locator("input[placeholder=number]").fill("4000002760003184")  # asks for 3-D Secure
    element.locator("input[placeholder=exp_month]").fill("12")
    element.locator("input[placeholder=exp_year]").fill("30")
    element.locator("input[placeholder=cvc]").fill("123")
    element.locator("input[placeholder=postal_code]").fill("75012")
    page.click("#bouton-carte")
    # The bank's authentication when the card is saved, then again for the first payment.
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(f"{portal.url}/commandes/{order_id}", timeout=15000)
    assert wait_for_state(portal, order_id, OrderState.ACTIVE) == OrderState.ACTIVE
    assert [m["address"].split("@")[0] for m in portal.sandbox.mailboxes()].count(
        "marie.carte"
    ) == 1
    assert violations == []


def test_sepa_debit_pays_after_the_bank_confirms_and_the_mailbox_opens(portal, chromium):
    order_id, account_id = awaiting_order(portal, last_name="Virement")
    page, violations = signed_in_page(chromium, portal, account_id)
    page.goto(f"{portal.url}/commandes/{order_id}/paiement")
    assert "vous autorisez" in page.get_by_test_id("sepa-mandate").inner_text()
    page.get_by_label("Nom du titulaire du compte").fill("Marie Virement")
    page.get_by_label("Adresse e-mail").fill("virement@example.org")
    page.get_by_label("IBAN").fill("FR14 2004 1010 0505 0001 3M02 606")
    page.click("#bouton-sepa")
    page.wait_for_url(f"{portal.url}/commandes/{order_id}", timeout=15000)
    # localstripe settles the debit a moment later and tells the portal by a signed webhook.
    assert wait_for_state(portal, order_id, OrderState.ACTIVE) == OrderState.ACTIVE
    assert violations == []


def test_refused_3d_secure_leaves_the_order_waiting_with_a_message(portal, chromium):
    order_id, account_id = awaiting_order(portal, last_name="Refus")
    page, _violations = signed_in_page(chromium, portal, account_id)
    page.goto(f"{portal.url}/commandes/{order_id}/paiement")
    page.fill("#carte-nom", "Marie Refus")
    element = page.locator("#carte-element")
    for placeholder, value in (
        ("number", "4000002760003184"),
        ("exp_month", "12"),
        ("exp_year", "30"),
        ("cvc", "123"),
        ("postal_code", "75012"),
    ):
        element.locator(f"input[placeholder={placeholder}]").fill(value)
    page.click("#bouton-carte")
    page.get_by_role("button", name="Fail authentication").click()
    error = page.locator("#paiement-erreur")
    error.wait_for(state="visible")
    assert "authentication failed" in error.inner_text()
    with Session(database(portal.app).engine) as session:
        assert session.get(Order, order_id).state == OrderState.AWAITING_PAYMENT


def axe_serious_violations(page, exclude: list[str]) -> list[str]:
    from portal.config import PROJECT_ROOT

    page.add_script_tag(path=str(PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"))
    results = page.evaluate(
        "async (exclude) => await axe.run({include: [document], exclude: exclude.map(s => [s])})",
        exclude,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_payment_and_purchase_order_pages_pass_axe(portal, chromium):
    order_id, account_id = awaiting_order(portal, last_name="Axe", structure=True)
    app = portal.app
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = serializer.dumps({"account_id": account_id, "sign_in_method": "test"})
    # axe is injected as an inline script, which the portal's CSP refuses: bypass it here.
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [{"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "url": portal.url}]
    )
    page = context.new_page()
    page.goto(f"{portal.url}/commandes/{order_id}/paiement")
    # The card fields come from the Stripe test server's stand-in for Stripe Elements (real
    # Stripe draws its own labelled fields in an iframe): they are not the portal's markup.
    assert axe_serious_violations(page, ["#carte-element"]) == []
    page.get_by_label("Votre numéro de bon de commande (facultatif)").fill("EJ-42")
    page.get_by_role("button", name="Obtenir le bon de commande").click()
    page.wait_for_url(f"{portal.url}/commandes/{order_id}/bon-de-commande")
    assert "EJ-42" in page.get_by_test_id("order-form").inner_text()
    assert axe_serious_violations(page, []) == []
    context.close()
