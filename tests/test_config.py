"""Settings: defaults that work on a bare machine, and one clear line for every mistake."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from portal.config import PROJECT_ROOT, ConfigError, load_settings

STRONG_KEY = "k" * 48
PRODUCTION = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "DATABASE_URL": "postgresql://portal@db.internal/portal",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "MAIL_URL": "smtp://relay.internal:25",
    "PUBLIC_URL": "https://portail-mssante.example.org",
    "PSC_CLIENT_ID": "portal",
    "PSC_CLIENT_SECRET": "secret",
    "PSC_METADATA_URL": "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/"
    ".well-known/wallet-openid-configuration",
}


def test_bare_machine_defaults_use_sqlite_under_instance_and_no_services():
    settings = load_settings({})
    assert settings.portal_env == "development"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'portal.sqlite3'}"
    assert settings.redis_url is None
    assert settings.mail_url is None
    assert not settings.stripe_enabled


def test_postgres_urls_get_the_psycopg_driver():
    settings = load_settings({"DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_complete_production_settings_are_accepted():
    settings = load_settings(PRODUCTION)
    assert settings.is_production


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"PORTAL_ENV": "staging"}, "PORTAL_ENV"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"MAIL_URL": "http://mail"}, "MAIL_URL"),
        ({"TRUSTED_PROXIES": "one"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
        ({"STRIPE_SECRET_KEY": "sk_test_x"}, "STRIPE_PUBLISHABLE_KEY"),
        ({**PRODUCTION, "SECRET_KEY": ""}, "SECRET_KEY"),
        ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({k: v for k, v in PRODUCTION.items() if k != "DATABASE_URL"}, "DATABASE_URL"),
        ({k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}, "REDIS_URL"),
        ({k: v for k, v in PRODUCTION.items() if k != "MAIL_URL"}, "MAIL_URL"),
        ({k: v for k, v in PRODUCTION.items() if k != "PSC_CLIENT_ID"}, "PSC_CLIENT_ID"),
        (
            {**PRODUCTION, "PSC_METADATA_URL": "http://127.0.0.1:5000/.well-known/x"},
            "PSC_METADATA_URL",
        ),
    ],
)
def test_bad_settings_name_the_setting_and_the_fix(environ, setting):
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    message = str(raised.value)
    assert raised.value.setting == setting
    assert message.startswith(f"Configuration error: {setting} ")
    assert "\n" not in message


def test_command_line_prints_one_line_without_traceback():
    environ = {**os.environ, "PORTAL_ENV": "production", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", "routes"],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Configuration error: SECRET_KEY" in result.stderr
