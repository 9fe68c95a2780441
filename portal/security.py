"""Security baseline of every response: headers and rate limits.

- **Content-Security-Policy**: only the portal's own scripts, styles, fonts and images (the
  DSFR is served from /static/dsfr/, its icons use ``data:`` URIs), no inline script or style
  element, no framing (``frame-ancestors 'none'``). Forms may post to the portal and, because
  sign-out is a POST that ends at Pro Santé Connect's end-session endpoint, to PSC's origin.
  A domain that needs another origin (e.g. a payment page) adds it with :func:`allow_source`
  in its ``init_app``; nothing else edits the policy.
- **HSTS** in production only (development runs on plain HTTP), ``Referrer-Policy``,
  ``X-Content-Type-Options``, ``Permissions-Policy`` and ``Cross-Origin-Opener-Policy``.
- **Rate limits** with flask-limiter: Redis storage when ``REDIS_URL`` is set (shared by all
  web processes), memory otherwise. Views opt in with ``@limiter.limit(...)``; the limits of
  sign-in and password reset are in :data:`SIGN_IN_LIMIT` and :data:`RESET_LIMIT`.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from flask import Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from portal.config import Settings

SIGN_IN_LIMIT = "10 per minute;50 per hour"
RESET_LIMIT = "5 per 15 minutes"
INVITATION_LIMIT = "20 per 15 minutes"

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

_BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def allow_source(app: Flask, directive: str, source: str) -> None:
    """Let pages load ``source`` for ``directive`` (e.g. ``"script-src"``, an https origin)."""
    policy = app.extensions["portal_csp"]
    if directive not in policy:
        policy[directive] = ["'self'"]
    if source not in policy[directive]:
        policy[directive].append(source)


def content_security_policy(app: Flask) -> str:
    return "; ".join(f"{k} {' '.join(v)}" for k, v in app.extensions["portal_csp"].items())


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["portal_csp"] = {k: list(v) for k, v in _BASE_POLICY.items()}
    psc_origin = _origin(settings.psc_metadata_url)
    if psc_origin:
        allow_source(app, "form-action", psc_origin)

    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        # One namespace per test app so counters never leak between test runs sharing Redis.
        RATELIMIT_KEY_PREFIX="portal" if settings.portal_env != "test" else f"t{uuid.uuid4().hex}",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    limiter.init_app(app)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(app))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if settings.is_production:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
