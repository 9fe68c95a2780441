"""Operator secrets (API tokens, callback signing keys) encrypted at rest.

The Fernet key is derived from SECRET_KEY with HKDF, so the database alone never reveals a
secret, and nothing but SECRET_KEY has to be kept safe. Changing SECRET_KEY makes stored
secrets unreadable: operators' secrets must then be entered again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FERNET_INFO = b"portal operator secrets v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted (SECRET_KEY changed, or the value was altered)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_FERNET_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt_secret(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "An operator secret cannot be decrypted: SECRET_KEY changed or the value was altered."
        ) from error


def derived_secret(secret_key: str, purpose: str) -> str:
    """A development secret shared by the portal and the reference operator (never stored).

    `make run` starts both with the same SECRET_KEY, so they agree on the bearer token and the
    callback signing key without any secret in the repository or the database.
    """
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()
