"""The application factory."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import db, errors, i18n, logs, security
from portal.config import PROJECT_ROOT, Settings, load_settings
from portal.extensions import csrf

# Each domain exposes init_app(app) and registers its own blueprints, commands and hooks.
DOMAINS = (
    "portal.site",
    "portal.accounts",
    "portal.catalogue",
    "portal.payments",
    "portal.directory",
    "portal.observatory",
    "portal.operators",
    "portal.regions",
    "portal.structures",
    "portal.provisioning",
    "portal.subscriptions",
    "portal.cli",
    "portal.api",  # last: the other domains attach their API routes to it first
)


def create_app(
    settings: Settings | None = None, overrides: Mapping[str, object] | None = None
) -> Flask:
    """Build the portal from ``settings`` (read from the environment when not given)."""
    settings = settings or load_settings()
    if overrides:
        settings = settings.with_overrides(**overrides)
    development = settings.portal_env == "development"
    logs.configure_logging(logging.INFO, readable=development)

    app = Flask(
        "portal",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "portal" / "static"),
        instance_path=str(settings.instance_dir),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.portal_env == "test",
        PORTAL_SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        SESSION_COOKIE_NAME="portal_session",
        WTF_CSRF_TIME_LIMIT=4 * 3600,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    if settings.trusted_proxies:
        # Behind a load balancer, the client's address (rate limits, audit) and the scheme come
        # from the X-Forwarded-* headers that the trusted proxies set, and from nobody else.
        count = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    db.init_app(app, settings)
    csrf.init_app(app)
    security.init_app(app, settings)
    i18n.init_app(app)
    logs.init_app(app)
    errors.init_app(app)
    for name in DOMAINS:
        importlib.import_module(name).init_app(app)
    return app


def settings_of(app: Flask) -> Settings:
    return app.config["PORTAL_SETTINGS"]
