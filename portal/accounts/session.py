"""Who is signed in: the one place that reads and writes the signed-in account in the session.

Sign-in methods (Pro Santé Connect, e-mail and password, the development identity provider) end
by calling :func:`sign_in`; everything else asks :func:`current_account`,
:func:`current_professional` or :func:`current_structure_ids`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import g, redirect, request, session
from sqlmodel import select

from portal.accounts.models import Account, Activity, Professional
from portal.db import get_session, utcnow

SIGN_IN_PATH = "/connexion"
_ACCOUNT_KEY = "account_id"


def sign_in(account: Account, *, method: str) -> None:
    """Start a fresh session for ``account`` (the old session is dropped: no fixation)."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session[_ACCOUNT_KEY] = account.id
    session["sign_in_method"] = method
    session.permanent = False
    account.last_sign_in_at = utcnow()
    g.pop("current_account", None)


def sign_out() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    g.pop("current_account", None)


def current_account() -> Account | None:
    if "current_account" not in g:
        account_id = session.get(_ACCOUNT_KEY)
        account = get_session().get(Account, account_id) if account_id else None
        g.current_account = account if account is not None and account.is_active else None
    return g.current_account


def current_professional() -> Professional | None:
    account = current_account()
    if account is None or account.professional_id is None:
        return None
    return get_session().get(Professional, account.professional_id)


def current_structure_ids() -> set[int]:
    """The structures the signed-in professional works in, from their PSC activities."""
    professional = current_professional()
    if professional is None:
        return set()
    rows = get_session().exec(
        select(Activity.structure_id).where(Activity.professional_id == professional.id)
    )
    return set(rows.all())


def safe_next_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site (``/…``), else None: no open redirects."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ch in value for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def sign_in_url(next_url: str | None = None) -> str:
    target = next_url if next_url is not None else request.full_path.rstrip("?")
    return f"{SIGN_IN_PATH}?{urlencode({'next': target})}"


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send people who are not signed in to the sign-in page, then back here."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            return redirect(sign_in_url())
        return view(*args, **kwargs)

    return wrapper
