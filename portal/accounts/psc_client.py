"""The portal as a Pro Santé Connect client (authlib), and what can go wrong with it.

Authorization code flow with PKCE (S256), ``state`` and ``nonce`` (authlib keeps them in the
session), ``scope=openid scope_all`` and ``acr_values=eidas1``. The provider is found only
through ``PSC_METADATA_URL`` (PSC's discovery document sits at a non-standard path). The
id_token is checked against the provider's JWKS, and its ``iss``, ``aud``, ``exp``, ``nonce``
and ``acr`` (must be ``eidas1``) are verified before UserInfo is read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from portal.accounts.psc import PscClaimsError, PscIdentity, identity_from_userinfo
from portal.config import Settings

log = logging.getLogger(__name__)

SCOPE = "openid scope_all"
REQUIRED_ACR = "eidas1"
HTTP_TIMEOUT = 10  # seconds; PSC answering slower than this counts as down


class PscSignInError(Exception):
    """A sign-in that must not go through. ``reason`` is a stable code for logs and pages."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PscResult:
    identity: PscIdentity
    id_token: str


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.psc_metadata_url:
        app.extensions["psc_client"] = None
        return
    oauth = OAuth()
    oauth.init_app(app)
    app.extensions["psc_client"] = oauth.register(
        "psc",
        client_id=settings.psc_client_id,
        client_secret=settings.psc_client_secret,
        server_metadata_url=settings.psc_metadata_url,
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT,
        },
    )


def psc_client() -> Any | None:
    """The registered authlib client, or None when PSC is not configured."""
    return current_app.extensions.get("psc_client")


def start_sign_in(redirect_uri: str):
    """Redirect to the provider's authorize endpoint (raises PscSignInError when it is down)."""
    client = psc_client()
    if client is None:
        raise PscSignInError("not_configured")
    try:
        return client.authorize_redirect(redirect_uri, acr_values=REQUIRED_ACR)
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as error:
        raise PscSignInError("unavailable", repr(error)) from error


def finish_sign_in() -> PscResult:
    """Handle the provider's callback: every check, then UserInfo. Raises PscSignInError."""
    client = psc_client()
    if client is None:
        raise PscSignInError("not_configured")
    try:
        metadata = client.load_server_metadata()
        claims_options = {
            "iss": {"essential": True, "value": metadata.get("issuer")},
            "aud": {"essential": True, "values": [client.client_id]},
            "exp": {"essential": True},
            "acr": {"essential": True, "value": REQUIRED_ACR},
        }
        token = client.authorize_access_token(claims_options=claims_options)
        if "id_token" not in token or "userinfo" not in token:
            raise PscSignInError("token", "no id_token in the token response")
        id_claims = token["userinfo"]
        claims = _read_userinfo(client, token, metadata)
        if claims.get("sub") != id_claims.get("sub"):
            raise PscSignInError("token", "UserInfo sub differs from the id_token's")
        return PscResult(identity=identity_from_userinfo(dict(claims)), id_token=token["id_token"])
    except PscSignInError:
        raise
    except MismatchingStateError as error:
        raise PscSignInError("state") from error
    except OAuthError as error:
        reason = "cancelled" if error.error == "access_denied" else "refused"
        raise PscSignInError(reason, f"{error.error}: {error.description}") from error
    except InvalidClaimError as error:
        reason = {"nonce": "nonce", "acr": "acr", "exp": "expired"}.get(error.claim, "claims")
        raise PscSignInError(reason, str(error)) from error
    except ExpiredTokenError as error:
        raise PscSignInError("expired", str(error)) from error
    except (MissingClaimError, ClaimError) as error:
        reason = "acr" if getattr(error, "claim", None) == "acr" else "claims"
        raise PscSignInError(reason, str(error)) from error
    except (BadSignatureError, InvalidKeyIdError, DecodeError) as error:
        raise PscSignInError("signature", repr(error)) from error
    except JoseError as error:
        raise PscSignInError("token", repr(error)) from error
    except PscClaimsError as error:
        raise PscSignInError("identity", str(error)) from error
    except requests.HTTPError as error:
        raise PscSignInError("refused", repr(error)) from error
    except requests.RequestException as error:
        raise PscSignInError("unavailable", repr(error)) from error


def _read_userinfo(client: Any, token: dict, metadata: dict) -> dict:
    """UserInfo as JSON, or as a JWT signed with the provider's keys (both exist in the wild)."""
    response = client.get(metadata["userinfo_endpoint"], token=token)
    response.raise_for_status()
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/jwt":
        keys = KeySet.import_key_set(client.fetch_jwk_set())
        decoded = jwt.decode(
            response.text.strip(),
            keys,
            algorithms=metadata.get("userinfo_signing_alg_values_supported") or ["RS256"],
        )
        claims = decoded.claims
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != metadata.get("issuer") or client.client_id not in audiences:
            raise PscSignInError("claims", "signed UserInfo for another issuer or client")
        return claims
    try:
        claims = response.json()
    except ValueError as error:
        raise PscSignInError("claims", f"UserInfo is not JSON ({content_type})") from error
    if not isinstance(claims, dict):
        raise PscSignInError("claims", "UserInfo is not a JSON object")
    return claims


def end_session_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """The provider's end-session URL for RP-initiated logout, or None when it has none."""
    client = psc_client()
    if client is None:
        return None
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        return client.create_logout_url(
            post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token
        )["url"]
    except (requests.RequestException, RuntimeError) as error:
        log.warning("psc end-session unavailable", extra={"error": repr(error)})
        return None
