"""Pro Santé Connect sign-in end to end: the portal and the development identity provider run as
separate processes on loopback ports; the portal finds the provider only via PSC_METADATA_URL.
Over HTTP with requests, and by clicking in Chromium with the portal's CSP in force."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
import requests
from bs4 import BeautifulSoup

from tests.accounts import psc_flow
from tests.accounts.live import live_identity_provider, live_portal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("identity_e2e")
    with live_identity_provider() as idp, live_portal(directory, idp, "identity_e2e") as portal:
        yield idp, portal


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def follow_psc_button(browser: requests.Session, portal_url: str) -> str:
    sign_in_page = soup(browser.get(f"{portal_url}/connexion?next=/offres", timeout=10))
    start = urljoin(portal_url, sign_in_page.select_one("#connexion-psc")["href"])
    redirect = browser.get(start, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    return redirect.headers["Location"]


def test_sign_in_and_out_over_real_http(servers):
    idp, portal = servers
    browser = requests.Session()
    authorize_url = follow_psc_button(browser, portal.url)
    assert authorize_url.startswith(idp.url)
    callback = psc_flow.authorize(authorize_url, "infirmiere-msp")
    assert callback.startswith(portal.url + "/connexion/psc/retour?")

    landed = browser.get(callback, timeout=10)
    assert landed.url == f"{portal.url}/offres"
    assert soup(landed).select_one("#compte-connecte").get_text(strip=True) == "Julie BERNARD"

    token = soup(landed).select_one("form input[name=csrf_token]")["value"]
    signed_out = browser.post(f"{portal.url}/deconnexion", data={"csrf_token": token}, timeout=10)
    assert signed_out.url.startswith(f"{portal.url}/deconnexion/terminee")
    assert soup(signed_out).h1.get_text(strip=True) == "Vous êtes déconnecté·e"
    assert soup(browser.get(portal.url, timeout=10)).select_one("#lien-connexion") is not None


def test_a_tampered_state_over_real_http_signs_nobody_in(servers):
    _idp, portal = servers
    browser = requests.Session()
    callback = psc_flow.authorize(follow_psc_button(browser, portal.url))
    state = psc_flow.query(callback)["state"]
    refused = browser.get(callback.replace(state, "forged" + state[6:]), timeout=10)
    assert refused.status_code == 400
    assert soup(refused).h1.get_text(strip=True) == "La demande de connexion n’est pas reconnue"
    assert soup(browser.get(portal.url, timeout=10)).select_one("#lien-connexion") is not None


def test_a_token_signed_by_another_key_over_real_http_signs_nobody_in(servers):
    _idp, portal = servers
    browser = requests.Session()
    callback = psc_flow.authorize(follow_psc_button(browser, portal.url), fault="foreign_key")
    refused = browser.get(callback, timeout=10)
    assert refused.status_code == 400
    assert "n’a pas pu être vérifiée" in soup(refused).h1.get_text()
    assert soup(browser.get(portal.url, timeout=10)).select_one("#compte-connecte") is None


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


@pytest.mark.browser
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


@pytest.mark.browser
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
