"""The site frame: French by default, English on request, DSFR assets, clear error pages."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlmodel import select

from portal.catalogue.models import Offer, OfferStatus
from portal.config import PROJECT_ROOT


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.lang: str | None = None
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.stylesheets.append(attrs["href"])

    def handle_data(self, data):
        self.parts.append(data)


def parse(response) -> _Text:
    parser = _Text()
    parser.feed(response.get_data(as_text=True))
    return parser


def test_home_is_in_french_with_the_dsfr(client):
    page = parse(client.get("/"))
    text = " ".join(page.parts)
    assert page.lang == "fr"
    assert "Votre messagerie sécurisée de santé, simplement" in text
    assert "/static/dsfr/dsfr.min.css" in page.stylesheets


def test_lang_en_switches_and_is_remembered_for_the_session(client):
    page = parse(client.get("/?lang=en"))
    assert page.lang == "en"
    assert "Your secure health mailbox, made simple" in " ".join(page.parts)
    assert parse(client.get("/offres")).lang == "en"
    assert parse(client.get("/?lang=fr")).lang == "fr"


def test_unknown_language_is_ignored(client):
    assert parse(client.get("/?lang=xx")).lang == "fr"


def test_language_link_keeps_the_query(client):
    html = client.get("/offres?type=ORG&type=APP").get_data(as_text=True)
    assert 'href="/offres?type=ORG&amp;type=APP&amp;lang=en"' in html


def _catalogue_pages(client) -> str:
    """Every page of the catalogue (20 offers a page), joined."""
    pages, number = [], 1
    while True:
        html = client.get(f"/offres?page={number}").get_data(as_text=True)
        pages.append(html)
        if f'href="/offres?page={number + 1}"' not in html:
            return "".join(pages)
        number += 1


def test_offers_lists_every_published_seed_offer(client, db_session):
    published = db_session.exec(select(Offer).where(Offer.status == OfferStatus.PUBLISHED)).all()
    assert len(published) >= 40
    html = _catalogue_pages(client)
    for offer in published:
        assert f">{offer.name}<".replace("'", "&#39;") in html


def test_demo_offers_are_marked_as_demo(client, db_session):
    html = _catalogue_pages(client)
    demo_count = len(db_session.exec(select(Offer).where(Offer.demo)).all())
    assert html.count('title="Données inventées pour la démonstration"') == demo_count


def test_not_found_page_explains_in_french_and_english(client):
    response = client.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    assert "Page non trouvée" in response.get_data(as_text=True)
    response = client.get("/cette-page-n-existe-pas?lang=en")
    assert "Page not found" in response.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_post_without_csrf_token_is_refused_with_a_clear_page(settings):
    from portal.app import create_app

    app = create_app(settings)

    @app.post("/_test_csrf")
    def _csrf_probe():  # pragma: no cover - never reached without a token
        return "accepted"

    response = app.test_client().post("/_test_csrf", data={"x": "1"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


@pytest.mark.skipif(
    not (PROJECT_ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist").is_dir(),
    reason="the DSFR npm package is installed by `make run` / `make test`",
)
def test_dsfr_assets_are_served_from_the_npm_package(client):
    response = client.get("/static/dsfr/dsfr.min.css")
    assert response.status_code == 200
    assert b".fr-header" in response.data


def test_an_unexpected_error_shows_the_500_page_and_is_logged(settings, caplog):
    from portal.app import create_app

    app = create_app(settings)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/_test_boom")
    def _boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/_test_boom")
    assert response.status_code == 500
    assert "Erreur inattendue" in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def _menu_links(response) -> dict[str, str]:
    from bs4 import BeautifulSoup

    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return {
        link.get_text(strip=True): link["href"]
        for link in page.select("#navigation-principale a.fr-nav__link")
    }


def test_a_signed_in_person_reaches_their_orders_from_the_menu(client, db_session):
    from tests.accounts.helpers import sign_in_client
    from tests.factories import make_account

    assert "Mes boîtes et commandes" not in _menu_links(client.get("/"))
    account = make_account(db_session)
    db_session.commit()
    sign_in_client(client, account)
    links = _menu_links(client.get("/"))
    assert links["Mes boîtes et commandes"] == "/commandes"
    assert client.get(links["Mes boîtes et commandes"]).status_code == 200
    assert _menu_links(client.get("/?lang=en"))["My mailboxes and orders"] == "/commandes"
