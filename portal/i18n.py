"""Languages: French by default, English on request (``?lang=en``), remembered in the session."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import get_locale

from portal.config import PROJECT_ROOT
from portal.extensions import babel
from portal.money import format_money

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


def select_locale() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    remembered = session.get("lang")
    return remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def localised(value: dict[str, str] | str | None, language: str | None = None) -> str:
    """Pick the text of the active language from a {"fr": …, "en": …} value from the data."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    language = language or current_language()
    return value.get(language) or value.get(DEFAULT_LANGUAGE) or next(iter(value.values()), "")


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Paris"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "portal" / "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["localised"] = localised
    app.jinja_env.filters["money"] = lambda cents, currency="EUR": format_money(
        cents, currency, current_language()
    )
    app.jinja_env.globals["current_language"] = current_language
