"""Development identity provider: a stand-in for Pro Santé Connect, for development and tests only.

It is a separate WSGI application (never part of the portal's URL map), built on authlib's
server side, shaped like PSC's Keycloak realm so that the portal's client code is exactly the
one used with PSC:

- discovery at ``{issuer}/.well-known/wallet-openid-configuration`` (PSC's non-standard path);
- JWKS with an RS256 key generated at start-up (its ``kid`` is the key's thumbprint, so a
  restart is seen by clients as a key rotation);
- authorize: a page to pick one of the demo professionals of ``seed/professionals.yaml``;
  authorization code with PKCE (S256 required), ``nonce`` and ``acr = eidas1``;
- token (client secret, basic or post), userinfo with PSC-shaped claims, end-session.

The authorize page can also *simulate a problem* (wrong nonce, token signed by another key,
weaker ``acr``, expired code) so that developers and tests can see how the portal reacts.
State lives in memory: run one process (``flask --app portal dev-idp``, or ``make run``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, abort, g, jsonify, redirect, render_template, request
from joserfc.jwk import RSAKey

from portal.config import PROJECT_ROOT

REALM_PATH = "/auth/realms/esante-wallet"
DISCOVERY_PATH = f"{REALM_PATH}/.well-known/wallet-openid-configuration"
DEV_CLIENT_ID = "portail-mssante-dev"
DEV_CLIENT_SECRET = "development-only-client-secret"  # noqa: S105 (a development constant)
PROFESSIONALS_FILE = PROJECT_ROOT / "seed" / "professionals.yaml"
CODE_LIFETIME = 60  # seconds, as short as PSC's
TOKEN_LIFETIME = 300
SCOPES = ("openid", "scope_all")

# What the authorize page can make go wrong, and the label a developer sees.
FAULTS = {
    "wrong_nonce": "The ID token carries another nonce",
    "foreign_key": "The ID token is signed by another key",
    "wrong_acr": "The authentication level is not eidas1",
    "expired_code": "The authorization code has expired",
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def load_professionals(path: Path = PROFESSIONALS_FILE) -> list[dict[str, Any]]:
    """The demo professionals, with the UserInfo claims PSC would send for each."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    people = []
    for entry in entries:
        claims = _without_portal_keys(entry["userinfo"])
        claims["sub"] = f"dev:{claims['SubjectNameID']}"
        people.append({"key": entry["key"], "description": entry["description"], "claims": claims})
    return people


def _without_portal_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_portal_keys(v) for k, v in value.items() if not k.startswith("portal_")}
    if isinstance(value, list):
        return [_without_portal_keys(v) for v in value]
    return value


@dataclass
class DevClient(ClientMixin):
    client_id: str
    client_secret: str
    client_metadata: dict = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Development only: any callback on this machine, never elsewhere.
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class DevAuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    fault: str | None
    issued_at: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        if self.fault == "wrong_nonce":
            return secrets.token_urlsafe(16)
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.issued_at)

    def get_acr(self) -> str:
        return "eidas2" if self.fault == "wrong_acr" else "eidas1"

    def is_expired(self) -> bool:
        return time.time() - self.issued_at > CODE_LIFETIME


@dataclass
class DevToken(TokenMixin):
    access_token: str
    client: DevClient
    scope: str
    user: dict
    issued_at: float = field(default_factory=time.time)

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return TOKEN_LIFETIME

    def is_expired(self) -> bool:
        return time.time() - self.issued_at > TOKEN_LIFETIME

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> dict:
        return self.user

    def get_client(self) -> DevClient:
        return self.client


class DevIdentityProvider:
    """The provider's keys, registered client and in-memory codes and tokens."""

    def __init__(self, *, client_id: str, client_secret: str, professionals: list[dict]):
        self.client = DevClient(client_id, client_secret)
        self.professionals = {p["key"]: p for p in professionals}
        self.key = RSAKey.generate_key(2048, private=True)
        self.kid = self.key.thumbprint()
        self.foreign_key = RSAKey.generate_key(2048, private=True)
        self._codes: dict[str, DevAuthorizationCode] = {}
        self._tokens: dict[str, DevToken] = {}
        self._nonces: set[str] = set()
        self._lock = threading.Lock()

    def issuer(self) -> str:
        return request.url_root.rstrip("/") + REALM_PATH

    def jwks(self) -> dict:
        public = self.key.as_dict(private=False)
        public.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [public]}

    def query_client(self, client_id: str) -> DevClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_code(self, item: DevAuthorizationCode) -> None:
        with self._lock:
            self._codes[item.code] = item
            if item.nonce:
                self._nonces.add(item.nonce)

    def pop_code(self, code: str) -> DevAuthorizationCode | None:
        with self._lock:
            return self._codes.get(code)

    def delete_code(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def nonce_used(self, nonce: str) -> bool:
        with self._lock:
            return nonce in self._nonces

    def save_token(self, token: dict, oauth_request: Any) -> None:
        with self._lock:
            self._tokens[token["access_token"]] = DevToken(
                access_token=token["access_token"],
                client=oauth_request.client,
                scope=token.get("scope", ""),
                user=oauth_request.user,
            )

    def find_token(self, access_token: str) -> DevToken | None:
        with self._lock:
            return self._tokens.get(access_token)


def _provider() -> DevIdentityProvider:
    from flask import current_app

    return current_app.extensions["dev_idp"]


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

    def save_authorization_code(self, code: str, oauth_request: Any) -> None:
        data = oauth_request.payload.data
        _provider().save_code(
            DevAuthorizationCode(
                code=code,
                client_id=oauth_request.client.client_id,
                redirect_uri=oauth_request.payload.redirect_uri,
                scope=oauth_request.scope,
                user=oauth_request.user,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                fault=g.get("dev_idp_fault"),
                issued_at=time.time()
                - (CODE_LIFETIME + 1 if g.get("dev_idp_fault") == "expired_code" else 0),
            )
        )

    def query_authorization_code(self, code: str, client: DevClient):
        item = _provider().pop_code(code)
        if item is not None and item.client_id == client.client_id and not item.is_expired():
            return item
        return None

    def delete_authorization_code(self, authorization_code: DevAuthorizationCode) -> None:
        _provider().delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: DevAuthorizationCode) -> dict:
        return authorization_code.user


class _StrictCodeChallenge(CodeChallenge):
    """PKCE with S256 is mandatory for every client, as with PSC."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):
    def exists_nonce(self, nonce: str, oauth_request: Any) -> bool:
        return _provider().nonce_used(nonce)

    def resolve_client_private_key(self, client: DevClient) -> RSAKey:
        provider = _provider()
        return (
            provider.foreign_key if g.get("dev_idp_token_fault") == "foreign_key" else provider.key
        )

    def get_client_algorithm(self, client: DevClient) -> str:
        return "RS256"

    def get_encode_header(self, client: DevClient) -> dict:
        # The same kid even when the fault signs with another key: the client must check the signature.
        return {"alg": "RS256", "kid": _provider().kid}

    def get_client_claims(self, client: DevClient) -> dict:
        return {"iss": _provider().issuer(), "aud": [client.client_id]}

    def encode_id_token(self, token: dict, oauth_request: Any) -> str:
        code = oauth_request.authorization_code
        g.dev_idp_token_fault = code.fault if code is not None else None
        return super().encode_id_token(token, oauth_request)

    def generate_user_info(self, user: dict, scope: str) -> UserInfo:
        return UserInfo(sub=user["sub"])


class _UserInfoEndpoint(UserInfoEndpoint):
    def get_issuer(self) -> str:
        return _provider().issuer()

    def generate_user_info(self, user: dict, scope: str) -> UserInfo:
        return UserInfo(user)

    def resolve_private_key(self) -> RSAKey:
        return _provider().key

    def get_supported_algorithms(self) -> list[str]:
        return ["RS256"]


class _BearerTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> DevToken | None:
        return _provider().find_token(token_string)


def create_dev_idp_app(
    *,
    portal_env: str,
    client_id: str = DEV_CLIENT_ID,
    client_secret: str = DEV_CLIENT_SECRET,
    professionals_file: Path = PROFESSIONALS_FILE,
    signed_userinfo: bool = False,
) -> Flask:
    """Build the development identity provider. Refuses to exist in production."""
    if portal_env not in ("development", "test"):
        raise RuntimeError("The development identity provider only runs in development or test.")
    app = Flask(
        "portal_dev_idp",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=None,
    )
    app.config.update(OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": TOKEN_LIFETIME})
    provider = DevIdentityProvider(
        client_id=client_id,
        client_secret=client_secret,
        professionals=load_professionals(professionals_file),
    )
    if signed_userinfo:  # UserInfo as a signed JWT instead of JSON
        provider.client.client_metadata["userinfo_signed_response_alg"] = "RS256"
    app.extensions["dev_idp"] = provider

    server = AuthorizationServer(
        app, query_client=provider.query_client, save_token=provider.save_token
    )
    server.register_grant(
        _AuthorizationCodeGrant,
        [_StrictCodeChallenge(required=True), _OpenIDCode(require_nonce=True)],
    )
    protector = ResourceProtector()
    protector.register_token_validator(_BearerTokenValidator())
    server.register_endpoint(_UserInfoEndpoint(resource_protector=protector))

    @app.get(DISCOVERY_PATH)
    def discovery():
        issuer = provider.issuer()
        return jsonify(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/protocol/openid-connect/auth",
                "token_endpoint": f"{issuer}/protocol/openid-connect/token",
                "userinfo_endpoint": f"{issuer}/protocol/openid-connect/userinfo",
                "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
                "end_session_endpoint": f"{issuer}/protocol/openid-connect/logout",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "userinfo_signing_alg_values_supported": ["RS256"],
                "scopes_supported": list(SCOPES),
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": ["eidas1"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "claims_supported": [
                    "sub",
                    "SubjectNameID",
                    "preferred_username",
                    "given_name",
                    "family_name",
                    "SubjectRefPro",
                ],
            }
        )

    @app.get(f"{REALM_PATH}/protocol/openid-connect/certs")
    def certs():
        return jsonify(provider.jwks())

    @app.route(f"{REALM_PATH}/protocol/openid-connect/auth", methods=["GET", "POST"])
    def authorize():
        try:
            grant = server.get_consent_grant(end_user=None)
        except Exception as error:  # an invalid request: say why, like a real provider
            description = getattr(error, "description", None) or str(error)
            return render_template("accounts/devidp/error.html", description=description), 400
        if request.method == "GET":
            return render_template(
                "accounts/devidp/authorize.html",
                professionals=list(provider.professionals.values()),
                faults=FAULTS,
                client_id=grant.client.client_id,
            )
        chosen = provider.professionals.get(request.form.get("professional", ""))
        if chosen is None:
            return server.create_authorization_response(grant=grant, grant_user=None)
        fault = request.form.get("fault") or None
        g.dev_idp_fault = fault if fault in FAULTS else None
        return server.create_authorization_response(grant=grant, grant_user=chosen["claims"])

    @app.post(f"{REALM_PATH}/protocol/openid-connect/token")
    def token():
        return server.create_token_response()

    @app.route(f"{REALM_PATH}/protocol/openid-connect/userinfo", methods=["GET", "POST"])
    def userinfo():
        return server.create_endpoint_response("userinfo")

    @app.get(f"{REALM_PATH}/protocol/openid-connect/logout")
    def logout():
        target = request.args.get("post_logout_redirect_uri", "")
        parts = urlsplit(target)
        if target and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
            state = request.args.get("state")
            separator = "&" if parts.query else "?"
            return redirect(f"{target}{separator}state={state}" if state else target)
        if target:
            abort(400)
        return render_template("accounts/devidp/signed_out.html")

    return app


def serve_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0):
    """Serve ``app`` from a daemon thread; returns the server (``server.port``, ``shutdown()``)."""
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dev-idp", daemon=True)
    thread.start()
    return server


def metadata_url(base_url: str) -> str:
    return base_url.rstrip("/") + DISCOVERY_PATH
