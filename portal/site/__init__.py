"""The site's frame: home page, legal pages, navigation, DSFR assets."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, request
from flask_babel import lazy_gettext as _l

from portal.config import PROJECT_ROOT

DSFR_DIST = PROJECT_ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist"

# (endpoint, label): the main menu. Domains add their public pages here as they land.
NAVIGATION: list[tuple[str, object]] = [
    ("site.home", _l("Accueil")),
    ("catalogue.offers", _l("Les offres")),
    ("directory.search_page", _l("Annuaire")),
    ("observatory.index", _l("Observatoire")),
]


# Shown to a signed-in person only, after the main menu.
SIGNED_IN_NAVIGATION: list[tuple[str, object]] = [
    ("subscriptions.orders", _l("Mes boîtes et commandes")),
]


def main_navigation() -> list[tuple[str, object]]:
    from portal.accounts.session import current_account

    if current_account() is not None:
        return NAVIGATION + SIGNED_IN_NAVIGATION
    return NAVIGATION


def language_url(language: str) -> str:
    """The current page in another language, keeping every query parameter."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    args.append(("lang", language))
    return f"{request.path}?{urlencode(args)}"


def init_app(app: Flask) -> None:
    from portal.site.views import blueprint

    app.register_blueprint(blueprint)
    # The DSFR comes from its npm package, installed by `make run`, never copied into the repo.
    app.register_blueprint(
        Blueprint("dsfr", __name__, static_folder=str(DSFR_DIST), static_url_path="/static/dsfr")
    )
    app.jinja_env.globals.update(main_navigation=main_navigation, language_url=language_url)
