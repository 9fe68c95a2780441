"""Security headers on every response; HSTS and secure cookies only in production."""

from __future__ import annotations

from portal.app import create_app
from portal.config import Settings

PSC_SANDBOX = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"


def test_every_page_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_production_adds_hsts_secure_cookies_and_lets_sign_out_reach_psc(settings):
    production = Settings(
        portal_env="production",
        database_url=settings.database_url,
        secret_key="s" * 48,
        redis_url="redis://127.0.0.1:6379/2",
        mail_url="smtp://127.0.0.1:2525",
        public_url="https://portail.example.org",
        psc_client_id="portal",
        psc_client_secret="secret",
        psc_metadata_url=f"{PSC_SANDBOX}/.well-known/wallet-openid-configuration",
        instance_dir=settings.instance_dir,
    ).with_overrides()
    app = create_app(production)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    response = app.test_client().get("/mentions-legales")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert (
        "form-action 'self' https://auth.bas.psc.esante.gouv.fr"
        in response.headers["Content-Security-Policy"]
    )
    assert "dev-idp" not in app.cli.commands
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/2"


def test_without_redis_rate_limits_are_counted_in_memory(app, settings):
    expected = settings.redis_url or "memory://"
    assert app.config["RATELIMIT_STORAGE_URI"] == expected
