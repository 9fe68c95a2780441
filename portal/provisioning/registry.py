"""Which adapter reaches which operator: chosen from the database, built from its settings.

``Operator.adapter_kind`` names the adapter; ``Operator.adapter_settings`` holds what is not
secret (``base_url``, ``timeout_seconds``); the bearer token and the callback signing key are
stored encrypted (:mod:`portal.provisioning.secrets`). Settings ``{"reference_operator": true}``
point the operator at the reference operator of this installation (``OPERATOR_SANDBOX_URL``),
with secrets derived from SECRET_KEY: that is how the seeded demo operators work.

HTTP adapters of one thread share a ``requests.Session`` per operator address and token, so a
worker keeps its connections to an operator open (keep-alive) from one job to the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests
from sqlmodel import Session

from portal.catalogue.models import Operator
from portal.config import Settings
from portal.provisioning.adapters.manual import KIND as MANUAL
from portal.provisioning.adapters.manual import ManualProvisioningAdapter
from portal.provisioning.adapters.standard import KIND as STANDARD
from portal.provisioning.adapters.standard import StandardProvisioningAdapter, http_session_for
from portal.provisioning.interfaces import PermanentProvisioningError, ProvisioningAdapter
from portal.provisioning.secrets import decrypt_secret, derived_secret, encrypt_secret

AdapterFactory = Callable[[Operator, Session, Settings], ProvisioningAdapter]
_FACTORIES: dict[str, AdapterFactory] = {}
SANDBOX_TOKEN_PURPOSE = "reference-operator-token"  # noqa: S105 (a label, not a secret)
SANDBOX_CALLBACK_PURPOSE = "reference-operator-callback"


def register(kind: str, factory: AdapterFactory) -> None:
    _FACTORIES[kind] = factory


def adapter_kinds() -> list[str]:
    return sorted(_FACTORIES)


def adapter_for(operator: Operator, *, session: Session, settings: Settings) -> ProvisioningAdapter:
    """The adapter configured for ``operator``."""
    factory = _FACTORIES.get(operator.adapter_kind)
    if factory is None:
        raise PermanentProvisioningError(
            "adapter_unknown",
            f"The operator's provisioning method {operator.adapter_kind!r} is not supported.",
        )
    return factory(operator, session, settings)


def uses_reference_operator(operator: Operator) -> bool:
    return bool((operator.adapter_settings or {}).get("reference_operator"))


def adapter_token(operator: Operator, settings: Settings) -> str | None:
    if operator.adapter_secret_encrypted:
        return decrypt_secret(settings.secret_key, operator.adapter_secret_encrypted)
    if uses_reference_operator(operator):
        return derived_secret(settings.secret_key, SANDBOX_TOKEN_PURPOSE)
    return None


def callback_secret(operator: Operator, settings: Settings) -> str | None:
    if operator.callback_secret_encrypted:
        return decrypt_secret(settings.secret_key, operator.callback_secret_encrypted)
    if uses_reference_operator(operator):
        return derived_secret(settings.secret_key, SANDBOX_CALLBACK_PURPOSE)
    return None


def store_secrets(
    operator: Operator, settings: Settings, *, token: str | None, callback: str | None
) -> None:
    """Encrypt and keep an operator's secrets (None leaves a secret unchanged)."""
    if token is not None:
        operator.adapter_secret_encrypted = encrypt_secret(settings.secret_key, token)
    if callback is not None:
        operator.callback_secret_encrypted = encrypt_secret(settings.secret_key, callback)


def _standard(operator: Operator, session: Session, settings: Settings) -> ProvisioningAdapter:
    options = operator.adapter_settings or {}
    base_url = settings.operator_sandbox_url if uses_reference_operator(operator) else None
    base_url = options.get("base_url") or base_url
    token = adapter_token(operator, settings)
    if not base_url or not token:
        raise PermanentProvisioningError(
            "adapter_not_configured",
            "The operator's provisioning API address or token is not configured.",
        )
    return StandardProvisioningAdapter(
        base_url=base_url,
        token=token,
        timeout_seconds=float(options.get("timeout_seconds", 10)),
        http=http_session(base_url, token),
    )


class _HttpSessions(threading.local):
    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], requests.Session] = {}


_http_sessions = _HttpSessions()
MAX_HTTP_SESSIONS = 64


def http_session(base_url: str, token: str) -> requests.Session:
    """This thread's HTTP session (its pool of kept-alive connections) for one operator API."""
    key = (base_url.rstrip("/"), token)
    sessions = _http_sessions.by_key
    session = sessions.get(key)
    if session is None:
        if len(sessions) >= MAX_HTTP_SESSIONS:  # operators reconfigured many times: start over
            for old in sessions.values():
                old.close()
            sessions.clear()
        session = sessions[key] = http_session_for(base_url)
    return session


def _manual(operator: Operator, session: Session, settings: Settings) -> ProvisioningAdapter:
    assert operator.id is not None
    return ManualProvisioningAdapter(session=session, operator_id=operator.id)


register(STANDARD, _standard)
register(MANUAL, _manual)
