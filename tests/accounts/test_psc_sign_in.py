"""Pro Santé Connect sign-in against the development identity provider, over real HTTP.

Every bad answer from the provider (or from an attacker) ends on a page that says what went
wrong and what to do, with nobody signed in, and an audit event saying why.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts import devidp
from portal.accounts.models import Account, Activity, Professional, Structure
from portal.app import create_app
from portal.audit import AuditEvent
from tests.accounts import psc_flow
from tests.accounts.conftest import psc_settings
from tests.conftest import rolled_back_session

MARTIN_IDNPS = "810100000011"


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def signed_in_account_id(client):
    with client.session_transaction() as flask_session:
        return flask_session.get("account_id")


def last_audit(session, action: str) -> AuditEvent:
    return session.exec(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    ).first()


def test_the_authorize_request_asks_for_pkce_nonce_state_scope_and_eidas1(psc_client, dev_idp):
    location = psc_flow.start(psc_client)
    assert location.startswith(dev_idp + devidp.REALM_PATH)
    params = psc_flow.query(location)
    assert params["scope"] == "openid scope_all"
    assert params["acr_values"] == "eidas1"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43
    assert len(params["state"]) >= 20 and len(params["nonce"]) >= 20
    assert params["redirect_uri"] == "http://localhost/connexion/psc/retour"


def test_a_professional_signs_in_and_lands_where_they_were_going(psc_client, psc_db_session):
    response = psc_flow.sign_in(psc_client, "medecin-msp", next_path="/offres?type=ORG")
    assert response.status_code == 302
    assert response.location == "/offres?type=ORG"

    account_id = signed_in_account_id(psc_client)
    account = psc_db_session.get(Account, account_id)
    professional = psc_db_session.get(Professional, account.professional_id)
    assert professional.idnps == MARTIN_IDNPS and professional.rpps == "10100000011"
    assert (professional.first_name, professional.last_name) == ("Claire", "MARTIN")
    assert professional.profession_code == "10" and professional.savoir_faire_code == "SM54"
    structures = psc_db_session.exec(
        select(Structure)
        .join(Activity, Activity.structure_id == Structure.id)
        .where(Activity.professional_id == professional.id)
    ).all()
    assert [(s.finess, s.type, s.department_code) for s in structures] == [
        ("690000014", "msp", "69")
    ]
    assert last_audit(psc_db_session, "sign_in").actor_account_id == account_id

    home = page(psc_client.get("/"))
    assert home.select_one("#compte-connecte").get_text(strip=True) == "Claire MARTIN"
    assert home.select_one("#bouton-deconnexion") is not None


def test_every_activity_becomes_a_structure_the_session_knows(psc_client, psc_db_session, psc_app):
    psc_flow.sign_in(psc_client, "medecin-hopital-cabinet")
    account = psc_db_session.get(Account, signed_in_account_id(psc_client))
    from portal.accounts.session import current_structure_ids

    with psc_app.test_request_context("/"):
        from flask import session

        session["account_id"] = account.id
        ids = current_structure_ids()
    names = {psc_db_session.get(Structure, i).name for i in ids}
    assert names == {"CENTRE HOSPITALIER DEMO DE MARSEILLE", "CABINET DU DR HADDAD"}
    cabinet = psc_db_session.exec(
        select(Structure).where(Structure.siret == "90000000200019")
    ).one()
    assert cabinet.finess is None and cabinet.siren == "900000002"
    assert cabinet.postal_code == "13001" and cabinet.city == "MARSEILLE"


def test_a_second_sign_in_updates_and_keeps_one_account(psc_client, psc_db_session):
    psc_flow.sign_in(psc_client, "pharmacien-titulaire")
    first = signed_in_account_id(psc_client)
    psc_flow.sign_in(psc_client, "pharmacien-titulaire")
    assert signed_in_account_id(psc_client) == first
    pharmacy = psc_db_session.exec(select(Structure).where(Structure.finess == "350000022")).one()
    assert pharmacy.type == "pharmacie" and pharmacy.finess_ej == "350000014"


def test_only_local_paths_are_followed_after_sign_in(psc_client):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = psc_flow.sign_in(psc_client, next_path=target)
        assert response.location == "/", target


def assert_refused(response, client, session, reason: str, title: str):
    assert response.status_code in (400, 503)
    html = page(response)
    assert html.h1.get_text(strip=True) == title
    assert "Vous n’êtes pas connecté·e." in html.get_text()
    assert signed_in_account_id(client) is None
    assert page(client.get("/")).select_one("#lien-connexion") is not None
    failure = last_audit(session, "sign_in_failed")
    assert failure.details == {"method": "psc", "reason": reason}


@pytest.mark.parametrize(
    ("fault", "reason", "title"),
    [
        (
            "wrong_nonce",
            "nonce",
            "La réponse de Pro Santé Connect ne correspond pas à votre demande",
        ),
        ("foreign_key", "signature", "La réponse de Pro Santé Connect n’a pas pu être vérifiée"),
        ("wrong_acr", "acr", "Niveau d’authentification insuffisant"),
        ("expired_code", "refused", "Pro Santé Connect a refusé de finaliser la connexion"),
    ],
)
def test_a_bad_answer_from_the_provider_signs_nobody_in(
    psc_client, psc_db_session, fault, reason, title
):
    response = psc_flow.sign_in(psc_client, fault=fault)
    assert_refused(response, psc_client, psc_db_session, reason, title)
    assert (
        psc_db_session.exec(select(Professional).where(Professional.idnps == MARTIN_IDNPS))
        .one()
        .exercices
    )  # the seeded professional is untouched: nothing recorded from a refused answer


def test_a_tampered_state_signs_nobody_in(psc_client, psc_db_session):
    callback = psc_flow.authorize(psc_flow.start(psc_client))
    path = psc_flow.callback_path(callback)
    state = psc_flow.query(callback)["state"]
    tampered = state[:-1] + ("A" if state[-1] != "A" else "B")  # always differs from state
    response = psc_client.get(path.replace(state, tampered))
    assert_refused(
        response, psc_client, psc_db_session, "state", "La demande de connexion n’est pas reconnue"
    )


def test_a_replayed_callback_signs_nobody_in(psc_client, psc_db_session):
    callback = psc_flow.authorize(psc_flow.start(psc_client))
    assert psc_client.get(psc_flow.callback_path(callback)).status_code == 302
    assert signed_in_account_id(psc_client) is not None
    replay = psc_client.get(psc_flow.callback_path(callback))
    assert_refused(
        replay, psc_client, psc_db_session, "state", "La demande de connexion n’est pas reconnue"
    )


def test_a_callback_from_another_browser_signs_nobody_in(psc_app, psc_client, psc_db_session):
    callback = psc_flow.authorize(psc_flow.start(psc_client))
    stranger = psc_app.test_client()
    response = stranger.get(psc_flow.callback_path(callback))
    assert_refused(
        response, stranger, psc_db_session, "state", "La demande de connexion n’est pas reconnue"
    )


def test_cancelling_at_the_provider_says_so(psc_client, psc_db_session):
    callback = psc_flow.authorize(psc_flow.start(psc_client), professional="")
    response = psc_client.get(psc_flow.callback_path(callback))
    assert_refused(response, psc_client, psc_db_session, "cancelled", "Connexion annulée")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_provider_that_is_down_gives_a_clear_page(app, settings):
    url = devidp.metadata_url(f"http://127.0.0.1:{free_port()}")
    down_app = create_app(psc_settings(settings, url))
    with rolled_back_session(down_app) as session:
        client = down_app.test_client()
        response = client.get("/connexion/psc")
        assert response.status_code == 503
        assert_refused(response, client, session, "unavailable", "Pro Santé Connect ne répond pas")


def test_a_provider_that_goes_down_during_sign_in_gives_a_clear_page(app, settings):
    idp = devidp.create_dev_idp_app(
        portal_env="test", client_id="portail-tests", client_secret="secret-of-the-tests"
    )
    server = devidp.serve_in_thread(idp)
    flaky_app = create_app(
        psc_settings(settings, devidp.metadata_url(f"http://127.0.0.1:{server.port}"))
    )
    with rolled_back_session(flaky_app) as session:
        client = flaky_app.test_client()
        callback = psc_flow.authorize(psc_flow.start(client))
        server.shutdown()
        server.server_close()
        response = client.get(psc_flow.callback_path(callback))
        assert response.status_code == 503
        assert_refused(response, client, session, "unavailable", "Pro Santé Connect ne répond pas")


def test_the_failure_page_is_in_english_too(psc_client):
    psc_client.get("/?lang=en")
    response = psc_flow.sign_in(psc_client, fault="wrong_acr")
    assert page(response).h1.get_text(strip=True) == "Authentication level too low"


def test_sign_out_ends_the_session_and_the_provider_session(psc_client, psc_db_session, dev_idp):
    psc_flow.sign_in(psc_client)
    account_id = signed_in_account_id(psc_client)
    token = psc_flow.csrf_token(psc_client)
    response = psc_client.post("/deconnexion", data={"csrf_token": token})
    assert response.status_code == 302
    end_session = urlsplit(response.location)
    assert f"{end_session.scheme}://{end_session.netloc}" == dev_idp
    params = psc_flow.query(response.location)
    assert params["post_logout_redirect_uri"] == "http://localhost/deconnexion/terminee"
    assert params["id_token_hint"].count(".") == 2
    assert signed_in_account_id(psc_client) is None
    assert last_audit(psc_db_session, "sign_out").actor_account_id == account_id
    done = page(psc_client.get("/deconnexion/terminee"))
    assert done.h1.get_text(strip=True) == "Vous êtes déconnecté·e"


def test_sign_out_without_csrf_token_is_refused(psc_client):
    psc_flow.sign_in(psc_client)
    response = psc_client.post("/deconnexion")
    assert response.status_code == 400
    assert signed_in_account_id(psc_client) is not None


def test_without_psc_settings_the_sign_in_page_says_it_is_unavailable(client):
    html = page(client.get("/connexion"))
    assert html.select_one("#connexion-psc") is None
    assert "n’est pas disponible sur ce portail" in html.get_text()


def test_a_signed_userinfo_is_verified_and_read(app, settings):
    idp = devidp.create_dev_idp_app(
        portal_env="test",
        client_id="portail-tests",
        client_secret="secret-of-the-tests",
        signed_userinfo=True,
    )
    server = devidp.serve_in_thread(idp)
    try:
        signed_app = create_app(
            psc_settings(settings, devidp.metadata_url(f"http://127.0.0.1:{server.port}"))
        )
        with rolled_back_session(signed_app) as session:
            client = signed_app.test_client()
            response = psc_flow.sign_in(client, "sage-femme-centre-sante")
            assert response.status_code == 302, response.get_data(as_text=True)
            account = session.get(Account, signed_in_account_id(client))
            assert account.display_name == "Sophie LAURENT"
            centre = session.exec(select(Structure).where(Structure.finess == "750000036")).one()
            assert centre.type == "centre_sante"
    finally:
        server.shutdown()
        server.server_close()
