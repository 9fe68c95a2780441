"""Money is integer cents plus a currency; this module turns it into text for people."""

from __future__ import annotations

from babel.numbers import format_currency, format_decimal


def format_money(cents: int, currency: str = "EUR", locale: str = "fr") -> str:
    """``1200`` → ``12,00 €`` in French, ``€12.00`` in English."""
    return format_currency(cents / 100, currency, locale=_babel_locale(locale))


def format_percent_bp(basis_points: int, locale: str = "fr") -> str:
    """``2000`` basis points → ``20 %`` (French) or ``20%`` (English)."""
    number = format_decimal(basis_points / 100, locale=_babel_locale(locale))
    return f"{number}\u202f%" if locale == "fr" else f"{number}%"


def _babel_locale(language: str) -> str:
    return "fr_FR" if language == "fr" else "en_GB"
