"""All configuration of the portal, read from the environment in this module only.

Every setting is documented in the README. A missing or malformed setting raises
:class:`ConfigError`, which prints one line naming the setting and the fix, and stops the
process (it is a ``SystemExit``), so nobody has to read a traceback to fix a typo.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
ENVIRONMENTS = ("development", "test", "production")
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-never-use-in-production"  # noqa: S105
DEFAULT_MAIL_FROM = "Portail des offres MSSanté <ne-pas-repondre@portail-mssante.invalid>"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"
DEFAULT_OPERATOR_SANDBOX_URL = "http://127.0.0.1:5001/v1"
DEFAULT_JOB_RETRY_BACKOFF = (5, 30, 120, 600, 1800)
JOB_RUNNERS = ("rq", "thread", "manual")


class ConfigError(SystemExit):
    """A setting is missing or wrong. The message names the setting and says how to fix it."""

    def __init__(self, setting: str, problem: str, fix: str):
        self.setting = setting
        super().__init__(f"Configuration error: {setting} {problem}. {fix}")


@dataclass(frozen=True)
class Settings:
    portal_env: str = "development"
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = DEVELOPMENT_SECRET_KEY
    stripe_secret_key: str | None = None
    stripe_publishable_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    psc_client_id: str | None = None
    psc_client_secret: str | None = None
    psc_metadata_url: str | None = None
    mail_url: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    public_url: str = DEFAULT_PUBLIC_URL
    # The reference operator (standard provisioning API) that demo operators point at.
    operator_sandbox_url: str = DEFAULT_OPERATOR_SANDBOX_URL
    # Seconds to wait before each retry of a job that failed for a reason that may pass.
    job_retry_backoff: tuple[int, ...] | None = None
    # "rq", "thread" or "manual"; derived from REDIS_URL and PORTAL_ENV when not set.
    job_runner: str | None = None
    # Where the directory publisher sends FHIR PATCHes besides the portal's own directory
    # (unset: the portal's own /fhir/ only); the bearer token it sends there.
    directory_fhir_base_url: str | None = None
    directory_fhir_token: str | None = None
    # Bearer token that external writers must present to PATCH the portal's /fhir/ (unset: off).
    fhir_write_token: str | None = None
    # How many reverse proxies (load balancer, TLS terminator) stand in front of the portal and
    # set X-Forwarded-For/-Proto/-Host; 0 trusts none of those headers.
    trusted_proxies: int = 0
    instance_dir: Path = INSTANCE_DIR
    # Derived, never read from the environment.
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.portal_env == "production"

    @property
    def is_development_like(self) -> bool:
        return self.portal_env in ("development", "test")

    @property
    def stripe_enabled(self) -> bool:
        return bool(self.stripe_secret_key and self.stripe_publishable_key)

    @property
    def mail_dir(self) -> Path:
        return self.instance_dir / "mail"

    @property
    def catalogue_check_seconds(self) -> float:
        """How often a process asks the database whether the catalogue changed (tests: always)."""
        return 0.0 if self.portal_env == "test" else 1.0

    @property
    def retry_backoff(self) -> tuple[int, ...]:
        """Delays between retries of a job; immediate retries in tests unless set."""
        if self.job_retry_backoff is not None:
            return self.job_retry_backoff
        return (0, 0, 0, 0, 0) if self.portal_env == "test" else DEFAULT_JOB_RETRY_BACKOFF

    @property
    def queue_runner(self) -> str:
        """Who runs background jobs: rq (REDIS_URL set), a background thread, or the tests.

        Without Redis, development runs jobs in a thread of the web process after the commit
        that enqueued them; the test suite runs them itself (``portal.queue.drain``) so that
        a test decides when background work happens.
        """
        if self.job_runner:
            return self.job_runner
        if self.redis_url:
            return "rq"
        return "manual" if self.portal_env == "test" else "thread"

    def with_overrides(self, **overrides: object) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(", ".join(sorted(unknown)), "is not a setting", "Check its name.")
        return _validated(replace(self, **overrides))


_ENV_NAMES = {
    "portal_env": "PORTAL_ENV",
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "secret_key": "SECRET_KEY",
    "stripe_secret_key": "STRIPE_SECRET_KEY",
    "stripe_publishable_key": "STRIPE_PUBLISHABLE_KEY",
    "stripe_webhook_secret": "STRIPE_WEBHOOK_SECRET",
    "stripe_api_base": "STRIPE_API_BASE",
    "psc_client_id": "PSC_CLIENT_ID",
    "psc_client_secret": "PSC_CLIENT_SECRET",
    "psc_metadata_url": "PSC_METADATA_URL",
    "mail_url": "MAIL_URL",
    "mail_from": "MAIL_FROM",
    "public_url": "PUBLIC_URL",
    "operator_sandbox_url": "OPERATOR_SANDBOX_URL",
    "job_retry_backoff": "JOB_RETRY_BACKOFF",
    "directory_fhir_base_url": "DIRECTORY_FHIR_BASE_URL",
    "directory_fhir_token": "DIRECTORY_FHIR_TOKEN",
    "fhir_write_token": "FHIR_WRITE_TOKEN",
    "trusted_proxies": "TRUSTED_PROXIES",
}


def default_database_url(instance_dir: Path = INSTANCE_DIR) -> str:
    return f"sqlite:///{instance_dir / 'portal.sqlite3'}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from ``environ`` (the process environment by default)."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for attribute, name in _ENV_NAMES.items():
        raw = environ.get(name, "").strip()
        if raw:
            values[attribute] = _PARSERS.get(attribute, str)(raw)
    settings = Settings(**values)  # type: ignore[arg-type]
    if not settings.database_url:
        settings = replace(settings, database_url=default_database_url(settings.instance_dir))
    return _validated(settings, explicit=set(values))


def _parse_proxy_count(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigError(
            "TRUSTED_PROXIES",
            f"is not a number of proxies between 0 and 10 ({raw!r})",
            "Set it to how many reverse proxies stand in front of the portal, such as 1.",
        )
    return int(raw)


def _parse_backoff(raw: str) -> tuple[int, ...]:
    try:
        delays = tuple(int(part) for part in raw.split(","))
    except ValueError:
        delays = ()
    if not delays or any(delay < 0 for delay in delays):
        raise ConfigError(
            "JOB_RETRY_BACKOFF",
            f"is not a list of seconds ({raw!r})",
            "Use comma-separated whole numbers of seconds, such as 5,30,120.",
        )
    return delays


_PARSERS = {"job_retry_backoff": _parse_backoff, "trusted_proxies": _parse_proxy_count}


def _validated(settings: Settings, explicit: set[str] | None = None) -> Settings:
    if settings.portal_env not in ENVIRONMENTS:
        raise ConfigError(
            "PORTAL_ENV",
            f"is {settings.portal_env!r}",
            "Set it to development, test or production.",
        )
    settings = replace(settings, database_url=_normalise_database_url(settings.database_url))
    _check_url("REDIS_URL", settings.redis_url, ("redis", "rediss", "unix"))
    _check_url("MAIL_URL", settings.mail_url, ("smtp", "smtps"))
    _check_url("STRIPE_API_BASE", settings.stripe_api_base, ("http", "https"))
    _check_url("PSC_METADATA_URL", settings.psc_metadata_url, ("http", "https"))
    _check_url("PUBLIC_URL", settings.public_url, ("http", "https"))
    _check_url("OPERATOR_SANDBOX_URL", settings.operator_sandbox_url, ("http", "https"))
    if settings.job_runner is not None and settings.job_runner not in JOB_RUNNERS:
        raise ConfigError("job_runner", f"is {settings.job_runner!r}", "Use rq, thread or manual.")
    if settings.job_runner == "rq" and not settings.redis_url:
        raise ConfigError("REDIS_URL", "is not set", "Set REDIS_URL to run jobs with rq.")
    _check_url("DIRECTORY_FHIR_BASE_URL", settings.directory_fhir_base_url, ("http", "https"))
    if settings.fhir_write_token is not None and len(settings.fhir_write_token) < 24:
        raise ConfigError(
            "FHIR_WRITE_TOKEN",
            "is shorter than 24 characters",
            'Use a long random value (python -c "import secrets; print(secrets.token_urlsafe(32))").',
        )
    if bool(settings.stripe_secret_key) != bool(settings.stripe_publishable_key):
        missing = "STRIPE_PUBLISHABLE_KEY" if settings.stripe_secret_key else "STRIPE_SECRET_KEY"
        raise ConfigError(
            missing,
            "is missing while the other Stripe key is set",
            "Set both Stripe keys, or neither to use purchase orders only.",
        )
    if settings.is_production:
        _refuse_development_defaults(settings, explicit)
    return settings


def _normalise_database_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql"):
        # SQLAlchemy needs the driver named; psycopg 3 is the one we install.
        return "postgresql+psycopg" + url[len(scheme) :]
    if scheme.startswith(("sqlite", "postgresql+")):
        return url
    raise ConfigError(
        "DATABASE_URL",
        f"has the unsupported scheme {scheme or '(none)'!r}",
        "Use postgresql://user@host/db or sqlite:///path/to/file.sqlite3.",
    )


def _check_url(setting: str, url: str | None, schemes: tuple[str, ...]) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ConfigError(
            setting,
            f"is not a valid {'/'.join(schemes)} URL ({url!r})",
            f"Use a URL such as {schemes[0]}://host:port.",
        )


def _refuse_development_defaults(settings: Settings, explicit: set[str] | None) -> None:
    if settings.secret_key == DEVELOPMENT_SECRET_KEY or len(settings.secret_key) < 32:
        raise ConfigError(
            "SECRET_KEY",
            "is missing or too short for production",
            'Set it to a random value of at least 32 characters (python -c "import secrets; '
            'print(secrets.token_urlsafe(48))").',
        )
    if explicit is not None and "database_url" not in explicit:
        raise ConfigError(
            "DATABASE_URL",
            "is not set in production",
            "Point it at the production PostgreSQL database.",
        )
    if not settings.redis_url:
        raise ConfigError(
            "REDIS_URL",
            "is not set in production",
            "Point it at Redis so that background work survives restarts.",
        )
    if not settings.mail_url:
        raise ConfigError(
            "MAIL_URL",
            "is not set in production",
            "Point it at the SMTP relay (smtp://host:port).",
        )
    if settings.public_url == DEFAULT_PUBLIC_URL:
        raise ConfigError(
            "PUBLIC_URL",
            "is not set in production",
            "Set it to the portal's public address (https://…), used in links sent by e-mail.",
        )
    for name in ("psc_client_id", "psc_client_secret", "psc_metadata_url"):
        if not getattr(settings, name):
            raise ConfigError(
                _ENV_NAMES[name],
                "is not set in production",
                "Register the portal with Pro Santé Connect and set PSC_CLIENT_ID, "
                "PSC_CLIENT_SECRET and PSC_METADATA_URL.",
            )
    host = urlsplit(settings.psc_metadata_url or "").hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            "PSC_METADATA_URL",
            "points at the development identity provider",
            "Use Pro Santé Connect's discovery document URL in production.",
        )


def env_name(attribute: str) -> str:
    """The environment variable behind a Settings attribute (for messages and docs)."""
    return _ENV_NAMES[attribute]
