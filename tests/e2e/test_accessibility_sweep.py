"""Every kind of page, as each kind of person sees it, checked by axe-core in Chromium.

The catalogue, observatory and payment pages have their own axe tests; this sweep covers the
rest: the public directory and the sign-in pages, the subscription flow and the order pages of a
professional signed in with Pro Santé Connect, the structure space, and the back-offices of a
region, an operator and the platform. A page passes when axe finds no serious or critical
violation (WCAG A/AA rules), in French and in English. On a phone-sized screen the pages a
professional uses must not scroll sideways.

The portal and the development identity provider run as separate processes.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal.accounts.models import Role
from portal.app import create_app
from portal.catalogue.models import Offer, Operator
from portal.config import PROJECT_ROOT, Settings
from portal.db import session_scope
from tests.accounts.live import live_identity_provider, live_portal
from tests.factories import make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
DATABASE_NAME = "accessibility_e2e"
PASSWORD = "Un mot de passe assez long pour les tests 42"
REGION = "84"  # Auvergne-Rhône-Alpes, with seeded programmes


def add_staff(database_url: str, directory) -> dict:
    """A platform admin, an admin of region 84 and an admin of the Mailiz operator."""
    app = create_app(Settings(portal_env="test", database_url=database_url, instance_dir=directory))
    with app.app_context(), session_scope(app) as session:
        mailiz = session.exec(select(Operator).where(Operator.slug == "mailiz")).one()
        offer = session.exec(select(Offer).where(Offer.operator_id == mailiz.id)).first()
        make_staff(session, "plateforme@example.org", Role.PLATFORM_ADMIN, password=PASSWORD)
        make_staff(
            session, "region@example.org", Role.REGION_ADMIN, password=PASSWORD, region_code=REGION
        )
        make_staff(
            session,
            "operateur@example.org",
            Role.OPERATOR_ADMIN,
            password=PASSWORD,
            operator_id=mailiz.id,
        )
        return {"operator_id": mailiz.id, "offer_id": offer.id}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp(DATABASE_NAME)
    with live_identity_provider() as idp, live_portal(directory, idp, DATABASE_NAME) as portal:
        yield portal.url, add_staff(portal.database_url, directory)


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag',"
        " values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        f"{page.url}: {v['id']} ({v['impact']}) {v['help']} — "
        f"{[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def sweep(page, portal: str, paths: list[str]) -> list[str]:
    """axe on each path, in French then in English; the problems found, page by page."""
    problems: list[str] = []
    for path in paths:
        for language in ("fr", "en"):
            separator = "&" if "?" in path else "?"
            response = page.goto(f"{portal}{path}{separator}lang={language}")
            assert response.status == 200, (path, response.status)
            problems += serious_violations(page)
    return problems


def staff_context(chromium, portal: str, email: str):
    # axe is injected as an inline script, which the portal's CSP rightly refuses: bypass it.
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{portal}/connexion")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#connexion-agent")
    page.wait_for_url(re.compile(r"^(?!.*/connexion)"))
    return context, page


def test_public_pages(servers, chromium):
    portal, _ids = servers
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    problems = sweep(
        page,
        portal,
        [
            "/annuaire",
            "/annuaire?q=martin",
            "/annuaire?q=zzzzzzzz",
            "/connexion",
            "/mot-de-passe-oublie",
            "/accessibilite",
            "/mentions-legales",
        ],
    )
    assert problems == [], "\n".join(problems)
    context.close()


def test_a_professional_subscribing_then_following_the_order(servers, chromium):
    portal, _ids = servers
    problems: list[str] = []
    # Two people, since each may have only one Mailiz mailbox.
    for width, person in ((1280, "Claire MARTIN"), (375, "Julie BERNARD")):
        context = chromium.new_context(
            viewport={"width": width, "height": 900}, is_mobile=width < 600, bypass_csp=True
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{portal}/souscrire/mailiz")
        page.wait_for_url("**/connexion?next=*")
        problems += serious_violations(page)
        page.click("#connexion-psc")
        page.get_by_label(re.compile(person)).check()
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/souscrire/mailiz")

        steps = []
        steps.append(page.url)
        problems += serious_violations(page)
        page.get_by_role("link", name=re.compile("Choisir mon adresse")).click()
        steps.append(page.url)
        problems += serious_violations(page)
        page.locator("input[name=choice]").first.check()
        page.get_by_role("button", name=re.compile("Continuer")).click()
        steps.append(page.url)
        problems += serious_violations(page)
        if width == 1280:
            # Submitting without accepting the terms (past the browser's own check): the
            # server's error is shown, and the page with it stays accessible.
            page.locator("#accept").evaluate("box => { box.form.noValidate = true; }")
            page.get_by_role("button", name="Valider la commande").click()
            assert page.locator("#accept-messages .fr-message--error").count() == 1
            problems += serious_violations(page)
        if page.locator("#contact_email").count():
            page.fill("#contact_email", "contact@example.org")
        page.get_by_text("J'accepte les conditions de l'offre décrites ci-dessus").click()
        page.get_by_role("button", name="Valider la commande").click()
        page.wait_for_url(re.compile(r"/commandes/\d+$"))
        order_path = "/commandes"
        page.goto(f"{portal}{order_path}")
        order_link = page.locator("#my-orders a[href^='/commandes/']").first.get_attribute("href")
        paths = [
            order_path,
            order_link,
            f"{order_link}/annuler",
            "/compte",
            "/annuaire/mes-adresses",
            "/espace-structure/",
        ]
        structure = page.goto(f"{portal}/espace-structure/")
        assert structure.status == 200
        first = page.locator("main a[href^='/espace-structure/']").first.get_attribute("href")
        paths += [first, f"{first}commander"]
        if width == 1280:
            problems += sweep(page, portal, paths)
        else:
            # On a phone nothing scrolls sideways (wide tables scroll inside their own frame).
            for url in [*steps, *(portal + p for p in paths)]:
                page.goto(url)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, (url, wide)
        context.close()
    assert problems == [], "\n".join(problems)


def test_region_back_office(servers, chromium):
    portal, _ids = servers
    context, page = staff_context(chromium, portal, "region@example.org")
    base = f"/espace-region/{REGION}"
    page.goto(f"{portal}{base}/programmes/")
    programme = page.locator(f"main a[href^='{base}/programmes/']").first.get_attribute("href")
    problems = sweep(
        page,
        portal,
        [
            "/espace-region/",
            f"{base}/",
            f"{base}/programmes/",
            f"{base}/programmes/nouveau",
            programme,
            f"{base}/approbations",
            f"{base}/commandes-groupees",
            f"{base}/tableau-de-bord",
        ],
    )
    assert problems == [], "\n".join(problems)
    context.close()


def test_operator_back_office(servers, chromium):
    portal, ids = servers
    context, page = staff_context(chromium, portal, "operateur@example.org")
    base = f"/espace-operateur/{ids['operator_id']}"
    problems = sweep(
        page,
        portal,
        [
            "/espace-operateur/",
            f"{base}/",
            f"{base}/a-traiter",
            f"{base}/commandes",
            f"{base}/offres/{ids['offer_id']}/",
            f"{base}/raccordement",
            "/espace-operateur/bons-de-commande",
        ],
    )
    assert problems == [], "\n".join(problems)
    context.close()


def test_platform_back_office(servers, chromium):
    portal, _ids = servers
    context, page = staff_context(chromium, portal, "plateforme@example.org")
    page.goto(f"{portal}/admin/comptes")
    account = page.locator("main a[href^='/admin/comptes/']").first.get_attribute("href")
    problems = sweep(page, portal, ["/admin/", "/admin/comptes", account, "/admin/invitations"])
    assert problems == [], "\n".join(problems)
    context.close()
