"""The adapter registry: one adapter per operator, HTTP connections kept between jobs."""

from __future__ import annotations

import threading

from portal.provisioning import registry
from portal.provisioning.adapters.standard import http_session_for
from tests.provisioning.helpers import sandbox_operator


def test_adapters_of_one_operator_share_their_http_connections_within_a_thread(
    db_session, settings, clean_sandbox
):
    operator = sandbox_operator(db_session, settings, clean_sandbox)
    first = registry.adapter_for(operator, session=db_session, settings=settings)
    second = registry.adapter_for(operator, session=db_session, settings=settings)
    assert first.http is second.http
    first.test_connection()
    second.test_connection()  # the session's pool serves both calls
    assert second.http.headers["Authorization"].startswith("Bearer ")

    elsewhere = []
    thread = threading.Thread(
        target=lambda: elsewhere.append(
            registry.adapter_for(operator, session=db_session, settings=settings).http
        )
    )
    thread.start()
    thread.join(5)
    assert elsewhere and elsewhere[0] is not first.http  # requests sessions stay per thread


def test_another_token_gets_another_http_session(db_session, settings, clean_sandbox):
    operator = sandbox_operator(db_session, settings, clean_sandbox)
    before = registry.adapter_for(operator, session=db_session, settings=settings)
    registry.store_secrets(operator, settings, token="another-token-0123456789", callback=None)
    after = registry.adapter_for(operator, session=db_session, settings=settings)
    assert after.http is not before.http
    assert after.http.headers["Authorization"] == "Bearer another-token-0123456789"


def test_an_operator_api_goes_through_the_proxy_the_environment_names(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "operateur-interne.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")

    outside = http_session_for("https://api.operateur.example/v1")
    inside = http_session_for("https://operateur-interne.example/v1")

    assert outside.proxies["https"] == "http://proxy.example:3128"
    assert outside.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert "https" not in inside.proxies
    # Read once: later changes of the environment are not looked up at every call.
    assert outside.trust_env is False
