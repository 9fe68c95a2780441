"""The observatory in Chromium: charts drawn from real figures, readable on a phone, and no
serious or critical accessibility problem found by axe-core."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.app import create_app
from portal.config import PROJECT_ROOT, Settings
from portal.db import session_scope
from portal.subscriptions.models import Mailbox, Order, OrderEvent
from tests.accounts.live import live_portal
from tests.factories import make_account, make_offer, make_operator, make_structure

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = PROJECT_ROOT / "test-results" / "observatory"
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def add_activity(url: str, directory) -> None:
    """Mailboxes opened in three regions, written to the live portal's own database."""
    app = create_app(Settings(portal_env="test", database_url=url, instance_dir=directory))
    with app.app_context(), session_scope(app) as session:
        operator = make_operator(session, kind="regional")
        offer = make_offer(session, operator=operator, mailbox_types=["ORG"])
        account = make_account(session)
        for n, department in enumerate(["29"] * 4 + ["75"] * 9 + ["2A"]):
            structure = make_structure(
                session, department_code=department, finess=f"{department}8{n:06d}"
            )
            order = Order(
                idempotency_key=f"e2e-observatory-{n}",
                account_id=account.id,
                structure_id=structure.id,
                offer_revision_id=offer.current_revision_id,
                state="active",
                created_at=T0,
                submitted_at=T0,
            )
            session.add(order)
            session.flush()
            session.add(
                OrderEvent(
                    order_id=order.id,
                    to_state="active",
                    actor="system",
                    created_at=T0 + dt.timedelta(hours=n + 1),
                )
            )
            session.add(
                Mailbox(
                    address=f"accueil{n}@e2e.mssante.fr",
                    type="ORG",
                    operator_id=operator.id,
                    structure_id=structure.id,
                    state="active",
                    activated_at=T0,
                )
            )


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    directory = tmp_path_factory.mktemp("observatory_e2e")
    with live_portal(directory, None, "observatory_e2e") as process:
        add_activity(migrated_database_url_of(directory), directory)
        yield process.url


def migrated_database_url_of(directory) -> str:
    # The live portal's database: same name, same place (see tests.accounts.live).
    from tests.conftest import TEST_DATABASE_URL

    if TEST_DATABASE_URL:
        import sqlalchemy as sa

        server = sa.engine.make_url(
            Settings(database_url="sqlite://")
            .with_overrides(database_url=TEST_DATABASE_URL)
            .database_url
        )
        return server.set(database=f"{server.database}_observatory_e2e").render_as_string(
            hide_password=False
        )
    return f"sqlite:///{directory / 'observatory_e2e.sqlite3'}"


def test_charts_tables_and_open_data_on_desktop_and_phone(portal, chromium):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(portal + "/observatoire")
    assert page.locator('[data-figure="provisioned"]').inner_text() == "14"
    chart = page.get_by_role("img", name="Boîtes aux lettres ouvertes par région")
    assert chart.is_visible()
    # The figures are one click away as a table.
    page.get_by_text("Les chiffres en tableau").first.click()
    row = page.locator('[data-chart="par-region"] tr', has_text="Île-de-France")
    assert row.locator("td").inner_text() == "9"
    page.screenshot(path=str(SHOTS / "observatoire-1280.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_text("Télécharger les données (CSV)").click()
    assert download.value.suggested_filename.startswith("observatoire-mssante-")
    context.close()

    phone = chromium.new_context(viewport={"width": 320, "height": 700})
    page = phone.new_page()
    page.goto(portal + "/observatoire")
    # Only a chart may scroll sideways, inside its own frame; the page fits the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.screenshot(path=str(SHOTS / "observatoire-320.png"), full_page=False)
    phone.close()


def test_axe_finds_no_serious_or_critical_violation(portal, chromium):
    # axe is injected as an inline script, which the portal's CSP rightly refuses: bypass it here.
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(portal + "/observatoire")
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document)")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)
    context.close()
