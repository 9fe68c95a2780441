"""The issue's journey over real processes: the portal under gunicorn, the rq worker with its
scheduler, the reference operator, the development identity provider and an SMTP server
(tests/e2e/processes.py). A professional signs in with Pro Santé Connect, subscribes to a free
offer; the order becomes active, the mailbox exists at the operator, the directory lists it and
the e-mail with the connection details arrives. Over HTTP, then by clicking in Chromium."""

from __future__ import annotations

import re

import pytest

from tests.e2e.journey import (
    directory_addresses,
    free_offer,
    order_state,
    sign_in_with_psc,
    submit,
    wait_for_status,
    walk_to_summary,
)
from tests.e2e.processes import wait_until

pytestmark = [pytest.mark.server, pytest.mark.e2e]


def assert_provisioned(stack, address: str, holder: str, contact: str) -> None:
    """What the operator, the directory and the SMTP server hold once the order is active."""
    [mailbox] = stack.operator_mailboxes(address)
    assert mailbox["status"] == "active"
    assert address in directory_addresses(stack, holder)[holder]
    [message] = wait_until(lambda: stack.inbox.to(contact), 30, what="the confirmation e-mail")
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert address in body
    assert f"imap.{address.split('@')[1]}" in body


def test_a_professional_subscribes_and_gets_a_working_listed_mailbox(provisioning):
    offer = free_offer(provisioning)
    browser = sign_in_with_psc(provisioning, "medecin-msp")
    summary = walk_to_summary(provisioning, browser, offer)
    assert summary.address == f"claire.martin@{offer.domain}"

    order_url = submit(browser, summary, contact_email="claire.martin@example.org")
    status = wait_for_status(browser, order_url, "Boîte active")
    assert f"imap.{offer.domain}" in status.get_text()
    assert status["data-live"] == "false"
    assert order_state(provisioning, int(order_url.rsplit("/", 1)[1])) == "active"
    assert_provisioned(provisioning, summary.address, "Claire MARTIN", "claire.martin@example.org")


@pytest.mark.browser
def test_the_same_journey_by_clicking_in_chromium(provisioning, chromium):
    offer = free_offer(provisioning)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{provisioning.portal_url}/souscrire/{offer.slug}")
        page.wait_for_url("**/connexion?next=*")
        page.click("#connexion-psc")
        page.get_by_label(re.compile("Julie BERNARD")).check()
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/souscrire/{offer.slug}")
        assert "Vous pouvez souscrire à cette offre" in page.locator("main").inner_text()
        page.get_by_role("link", name=re.compile("Choisir mon adresse")).click()
        address = f"julie.bernard@{offer.domain}"
        page.get_by_label(address).check()
        page.get_by_role("button", name=re.compile("Continuer")).click()
        assert page.locator("#chosen-address").inner_text() == address
        page.fill("#contact_email", "julie.bernard@example.org")
        page.get_by_text("J'accepte les conditions de l'offre décrites ci-dessus").click()
        assert page.locator("#accept").is_checked()
        page.get_by_role("button", name="Valider la commande").click()
        page.wait_for_url(re.compile(r"/commandes/\d+$"))
        # The page refreshes itself while the worker creates the mailbox.
        page.locator("#order-status", has_text="Boîte active").wait_for(timeout=60_000)
        assert f"imap.{offer.domain}" in page.locator("#order-status").inner_text()
        page.get_by_role("link", name="Mes boîtes et commandes").first.click()
        assert address in page.locator("#my-orders").inner_text()
    finally:
        context.close()
    assert_provisioned(provisioning, address, "Julie BERNARD", "julie.bernard@example.org")
