"""The development identity provider: PSC's shape, strict PKCE, never in production."""

from __future__ import annotations

import pytest
import requests

from portal.accounts import devidp
from tests.accounts.conftest import TEST_CLIENT_ID


def test_it_refuses_to_exist_in_production():
    with pytest.raises(RuntimeError):
        devidp.create_dev_idp_app(portal_env="production")


def test_the_cli_command_exists_only_outside_production(app):
    assert "dev-idp" in app.cli.commands


def test_discovery_sits_at_psc_non_standard_path(dev_idp):
    metadata = requests.get(devidp.metadata_url(dev_idp), timeout=5).json()
    assert metadata["issuer"] == dev_idp + "/auth/realms/esante-wallet"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["acr_values_supported"] == ["eidas1"]
    keys = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
    assert [(k["kty"], k["alg"]) for k in keys] == [("RSA", "RS256")]
    assert "d" not in keys[0]  # never the private part


def test_an_authorize_request_without_pkce_is_refused(dev_idp):
    response = requests.get(
        f"{dev_idp}{devidp.REALM_PATH}/protocol/openid-connect/auth",
        params={
            "response_type": "code",
            "client_id": TEST_CLIENT_ID,
            "redirect_uri": "http://localhost/cb",
            "scope": "openid scope_all",
            "state": "s" * 20,
            "nonce": "n" * 20,
        },
        timeout=5,
    )
    assert response.status_code == 400
    assert "S256" in response.text


def test_a_redirect_away_from_this_machine_is_refused(dev_idp):
    response = requests.get(
        f"{dev_idp}{devidp.REALM_PATH}/protocol/openid-connect/auth",
        params={
            "response_type": "code",
            "client_id": TEST_CLIENT_ID,
            "redirect_uri": "https://evil.example/cb",
            "scope": "openid scope_all",
            "state": "s" * 20,
            "nonce": "n" * 20,
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        },
        timeout=5,
    )
    assert response.status_code == 400


def test_userinfo_needs_a_valid_token(dev_idp):
    response = requests.get(
        f"{dev_idp}{devidp.REALM_PATH}/protocol/openid-connect/userinfo",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=5,
    )
    assert response.status_code == 401


def test_the_portal_seed_and_the_provider_share_the_demo_professionals():
    people = devidp.load_professionals()
    professions = {p["claims"]["SubjectRefPro"]["exercices"][0]["codeProfession"] for p in people}
    assert {"10", "60", "21"} <= professions
    assert all("portal_structure_type" not in str(p["claims"]) for p in people)
