"""Operator secrets are encrypted at rest with a key derived from SECRET_KEY."""

from __future__ import annotations

import pytest

from portal.provisioning import registry
from portal.provisioning.secrets import SecretUnreadable, decrypt_secret, encrypt_secret
from tests.factories import make_operator


def test_a_stored_secret_is_not_readable_without_the_secret_key(db_session, settings):
    operator = make_operator(db_session, adapter_kind="mss-provisioning-v1")
    registry.store_secrets(operator, settings, token="api-token-123", callback="hook-456")
    db_session.flush()
    assert "api-token-123" not in operator.adapter_secret_encrypted
    assert "hook-456" not in operator.callback_secret_encrypted
    assert registry.adapter_token(operator, settings) == "api-token-123"
    assert registry.callback_secret(operator, settings) == "hook-456"
    other = settings.with_overrides(secret_key="another-secret-key-" * 3)
    with pytest.raises(SecretUnreadable):
        registry.adapter_token(operator, other)


def test_encryption_is_randomised():
    assert encrypt_secret("k" * 40, "same") != encrypt_secret("k" * 40, "same")
    assert decrypt_secret("k" * 40, encrypt_secret("k" * 40, "same")) == "same"


def test_operators_without_secrets_have_none_unless_they_use_the_reference_operator(
    db_session, settings
):
    plain = make_operator(db_session, adapter_kind="mss-provisioning-v1")
    assert registry.adapter_token(plain, settings) is None
    demo = make_operator(
        db_session,
        adapter_kind="mss-provisioning-v1",
        adapter_settings={"reference_operator": True},
    )
    assert registry.adapter_token(demo, settings)
    assert registry.callback_secret(demo, settings) != registry.adapter_token(demo, settings)
