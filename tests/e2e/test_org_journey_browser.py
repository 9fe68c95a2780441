"""The issue's journey in Chromium: a pharmacist signs in with Pro Santé Connect (the
development identity provider, its own process) and orders two ORG mailboxes for the pharmacy
of their activities under a regional programme; the region approves; the operator's staff
(manual provisioning) create the mailboxes; they become active and are listed under the
pharmacy in the directory; the pharmacist adds a user to one of them.

The portal is served from a thread of the test with the embedded default queue (a background
thread of the web process, no Redis), so the provisioning and directory jobs run by themselves
after each commit, as with ``make run``; the test only waits on the pages.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import select
from werkzeug.serving import make_server

from portal import queue
from portal.accounts import devidp
from portal.accounts.models import Role, Structure
from portal.app import create_app
from portal.config import Settings
from portal.db import session_scope
from portal.regions.models import SubsidyProgramme
from tests.accounts.live import CLIENT_ID, CLIENT_SECRET, live_identity_provider, prepared_database
from tests.factories import make_offer, make_operator, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DATABASE_NAME = "org_journey_e2e"
PASSWORD = "Un mot de passe assez long pour les tests 42"


def prepare(url: str, directory) -> dict:
    """A regional programme for pharmacies of Bretagne, and the region's and operator's staff."""
    app = create_app(Settings(portal_env="test", database_url=url, instance_dir=directory))
    with app.app_context(), session_scope(app) as session:
        operator = make_operator(
            session, name="Messagerie des officines", mail_domains=["officines-e2e.mssante.fr"]
        )
        offer = make_offer(
            session,
            operator=operator,
            slug="officines-e2e",
            name="Officines e2e",
            mailbox_types=["ORG"],
            price_cents=500,
        )
        session.add(
            SubsidyProgramme(
                slug="bzh-officines-e2e",
                region_code="53",
                offer_id=offer.id,
                name={"fr": "Officines bretonnes", "en": "Breton pharmacies"},
                rule="free",
                quota_mailboxes=20,
                needs_approval=True,
                structure_types=["pharmacie"],
                status="published",
            )
        )
        make_staff(
            session, "region@example.org", Role.REGION_ADMIN, password=PASSWORD, region_code="53"
        )
        make_staff(
            session,
            "operateur@example.org",
            Role.OPERATOR_ADMIN,
            password=PASSWORD,
            operator_id=operator.id,
        )
        pharmacy = session.exec(select(Structure).where(Structure.finess == "350000022")).one()
        return {"operator_id": operator.id, "pharmacy_id": pharmacy.id}


@contextlib.contextmanager
def portal_with_embedded_queue(directory, idp) -> Iterator[str]:
    """The portal served from a thread, its jobs run by the embedded queue's thread."""
    database_url = prepared_database(directory, DATABASE_NAME)
    # The port must be known before the app (PUBLIC_URL): bind first, then build the app.
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app(
        Settings(
            portal_env="test",
            database_url=database_url,
            instance_dir=directory,
            public_url=url,
            psc_metadata_url=devidp.metadata_url(idp.url),
            psc_client_id=CLIENT_ID,
            psc_client_secret=CLIENT_SECRET,
            job_runner="thread",
        ).with_overrides()
    )
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="org-journey-portal", daemon=True)
    thread.start()
    try:
        yield url, database_url
    finally:
        server.shutdown()
        thread.join(5)
        queue.runner(app).stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp(DATABASE_NAME)
    with (
        live_identity_provider() as idp,
        portal_with_embedded_queue(directory, idp) as (url, database_url),
    ):
        yield url, prepare(database_url, directory)


def staff_page(chromium, portal: str, email: str, path: str):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(portal + path)
    page.wait_for_url("**/connexion?next=*")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#connexion-agent")
    page.wait_for_url(portal + path)
    return context, page


def reload_until(page, check, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the page never showed the expected state"
        time.sleep(0.5)
        page.reload()


def test_pharmacist_orders_region_approves_operator_creates_directory_lists(servers, chromium):
    portal, ids = servers
    pharmacy, operator = ids["pharmacy_id"], ids["operator_id"]

    # 1. The pharmacist signs in with Pro Santé Connect and orders two ORG mailboxes.
    pharmacist = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = pharmacist.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{portal}/espace-structure/{pharmacy}/commander?offre=officines-e2e")
    page.wait_for_url("**/connexion?next=*")
    page.click("#connexion-psc")
    page.get_by_label(re.compile("Thomas PETIT")).check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/espace-structure/\d+/commander"))
    page.fill("#service-1", "Officine")
    page.fill("#local-1", "officine.pharmacie-du-parc")
    page.fill("#responsible-1", "Thomas Petit")
    page.fill("#users-1", "Thomas Petit ; thomas@example.org ; 10100000037")
    page.fill("#service-2", "Secrétariat")
    page.fill("#local-2", "secretariat.pharmacie-du-parc")
    page.fill("#responsible-2", "Thomas Petit")
    page.get_by_role("button", name="Envoyer la commande").click()
    page.wait_for_url(f"{portal}/espace-structure/{pharmacy}/")
    orders = page.locator("[data-testid=structure-orders]").inner_text()
    assert "En attente de validation" in orders

    # 2. The region approves it.
    context, region = staff_page(
        chromium, portal, "region@example.org", "/espace-region/53/approbations"
    )
    card = region.locator("[data-order]").first
    assert "PHARMACIE DU PARC" in card.inner_text()
    card.get_by_role("button", name="Approuver").click()
    region.wait_for_selector("[data-testid=no-approvals]")
    context.close()

    # 3. The operator's staff create both mailboxes by hand and give their identifiers.
    context, staff = staff_page(
        chromium, portal, "operateur@example.org", f"/espace-operateur/{operator}/a-traiter"
    )
    reload_until(staff, lambda: staff.locator("[data-mailbox]").count() == 2)
    for number in (1, 2):
        item = staff.locator("[data-mailbox]").first
        item.locator("input[name=external_id]").fill(f"PARC-{number}")
        item.get_by_role("button", name="Marquer comme créée").click()
        staff.wait_for_selector(".fr-alert--success")
    assert staff.locator("[data-testid=no-work]").is_visible()
    context.close()

    # 4. Active, and listed under the pharmacy in the directory.
    page.goto(f"{portal}/espace-structure/{pharmacy}/")
    reload_until(
        page, lambda: "Boîte active" in page.locator("[data-testid=structure-orders]").inner_text()
    )
    page.goto(f"{portal}/annuaire?q=Pharmacie du Parc")
    results = page.locator("main").inner_text()
    assert "officine.pharmacie-du-parc@officines-e2e.mssante.fr" in results
    assert "secretariat.pharmacie-du-parc@officines-e2e.mssante.fr" in results

    # 5. The pharmacist adds a user to the secretariat mailbox.
    page.goto(f"{portal}/espace-structure/{pharmacy}/")
    box = page.locator('[data-mailbox="secretariat.pharmacie-du-parc@officines-e2e.mssante.fr"]')
    box.get_by_label("Prénom et nom").fill("Nolwenn Le Goff")
    box.get_by_label("Adresse e-mail").fill("nolwenn@example.org")
    box.get_by_label("Rôle").select_option("secretary")
    box.get_by_role("button", name="Ajouter").click()
    page.wait_for_selector(".fr-alert--success")
    assert (
        "Nolwenn Le Goff"
        in page.locator(
            '[data-mailbox="secretariat.pharmacie-du-parc@officines-e2e.mssante.fr"] [data-testid=users]'
        ).inner_text()
    )
    pharmacist.close()
