"""Security headers on every response; HSTS and secure cookies only in production."""

from __future__ import annotations

import secrets

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


def _sign_in_statuses(client, forwarded_for: str, attempts: int) -> list[int]:
    statuses = []
    for _ in range(attempts):
        page = client.get("/connexion", headers={"X-Forwarded-For": forwarded_for})
        token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
        response = client.post(
            "/connexion",
            data={"csrf_token": token.split('"')[0], "email": "x@example.org", "password": "x"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        statuses.append(response.status_code)
    return statuses


def test_behind_a_trusted_proxy_rate_limits_count_each_client_apart(settings):
    app = create_app(settings.with_overrides(trusted_proxies=1))
    first, second = f"203.0.113.{secrets.randbelow(250) + 1}", "198.51.100.7"
    assert _sign_in_statuses(app.test_client(), first, 11)[-1] == 429
    # Another person behind the same load balancer is not locked out by the first one.
    assert _sign_in_statuses(app.test_client(), second, 1) == [400]


def test_without_trusted_proxies_forwarded_headers_are_ignored(settings):
    app = create_app(settings)
    assert settings.trusted_proxies == 0
    statuses = [_sign_in_statuses(app.test_client(), f"192.0.2.{n}", 1)[0] for n in range(1, 12)]
    # Spoofed X-Forwarded-For values do not let one client escape its limit.
    assert statuses[-1] == 429
