"""Sign in by clicking, in Chromium, with the portal's Content-Security-Policy in force."""

from __future__ import annotations

import pytest

from tests.accounts.live import live_identity_provider, live_portal

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("identity_browser")
    with live_identity_provider() as idp, live_portal(directory, idp, "identity_browser") as portal:
        yield idp, portal


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def watch_csp(page) -> list[str]:
    """Collect every CSP violation the page reports (console and securitypolicyviolation)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_a_professional_signs_in_and_out_by_clicking(servers, chromium):
    _idp, portal = servers
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    violations = watch_csp(page)
    page.set_default_timeout(10_000)

    page.goto(f"{portal.url}/offres")
    page.click("#lien-connexion")
    page.click("#connexion-psc")
    page.get_by_label("Thomas PETIT").check()
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(f"{portal.url}/offres")
    assert page.locator("#compte-connecte").inner_text().strip() == "Thomas PETIT"
    assert "Vous êtes connecté·e en tant que Thomas PETIT." in page.locator("main").inner_text()

    page.click("#bouton-deconnexion")
    page.wait_for_url(f"{portal.url}/deconnexion/terminee*")
    assert page.locator("h1").inner_text() == "Vous êtes déconnecté·e"
    assert page.locator("#lien-connexion").count() == 1
    assert violations == []
    context.close()


def test_the_dsfr_runs_under_the_csp_on_a_phone(servers, chromium):
    _idp, portal = servers
    context = chromium.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    violations = watch_csp(page)
    page.set_default_timeout(10_000)
    response = page.goto(portal.url)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

    menu = page.locator("#menu-principal")
    assert not menu.is_visible()
    page.click("#bouton-menu")
    page.wait_for_function(
        "document.getElementById('menu-principal').classList.contains('fr-modal--opened')"
    )
    assert menu.get_by_role("link", name="Les offres").is_visible()
    assert violations == []
    context.close()
