"""Staff sign in with e-mail and password: Argon2 hashes, lock-out, clear errors, CSRF."""

from __future__ import annotations

import datetime as dt

from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts import passwords
from portal.accounts.models import Account, Role
from portal.audit import AuditEvent
from portal.db import utcnow
from tests.accounts import psc_flow
from tests.accounts.conftest import make_staff

PASSWORD = "correct horse battery staple"


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def post_sign_in(client, email, password, next_path=None):
    token = psc_flow.csrf_token(client, "/connexion")
    url = "/connexion" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"csrf_token": token, "email": email, "password": password})


def signed_in(client):
    with client.session_transaction() as flask_session:
        return flask_session.get("account_id")


def staff(db_session, **values):
    account = make_staff(db_session, Role.PLATFORM_ADMIN, password=PASSWORD)
    for key, value in values.items():
        setattr(account, key, value)
    db_session.commit()
    return account


def test_passwords_are_hashed_with_argon2id(db_session):
    account = staff(db_session)
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash


def test_staff_sign_in_and_land_where_they_were_going(client, db_session):
    account = staff(db_session)
    response = post_sign_in(client, account.email.upper(), PASSWORD, "/admin/")
    assert response.status_code == 302 and response.location == "/admin/"
    assert signed_in(client) == account.id
    assert client.get("/admin/").status_code == 200
    event = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "sign_in").order_by(AuditEvent.id.desc())
    ).first()
    assert event.actor_account_id == account.id and event.details == {"method": "password"}


def test_a_wrong_password_says_so_and_keeps_the_email(client, db_session):
    account = staff(db_session)
    response = post_sign_in(client, account.email, "not the password at all")
    assert response.status_code == 400
    html = page(response)
    assert (
        "Adresse e-mail ou mot de passe incorrect"
        in html.select_one("#erreur-connexion").get_text()
    )
    assert html.select_one("input[name=email]")["value"] == account.email
    assert signed_in(client) is None
    assert db_session.get(Account, account.id).failed_sign_ins == 1


def test_an_unknown_email_gets_the_same_answer(client, db_session):
    response = post_sign_in(client, "personne@example.org", PASSWORD)
    assert response.status_code == 400
    assert "Adresse e-mail ou mot de passe incorrect" in page(response).get_text()
    assert signed_in(client) is None


def test_five_failures_lock_the_account_even_for_the_right_password(client, db_session):
    account = staff(db_session)
    for _ in range(passwords.MAX_FAILURES - 1):
        assert post_sign_in(client, account.email, "wrong password!").status_code == 400
    locking = post_sign_in(client, account.email, "wrong password!")
    assert locking.status_code == 429
    assert "ce compte est bloqué jusqu’à" in page(locking).get_text()
    refused = post_sign_in(client, account.email, PASSWORD)
    assert refused.status_code == 429 and signed_in(client) is None
    account = db_session.get(Account, account.id)
    assert account.locked_until > utcnow() + dt.timedelta(minutes=14)
    account.locked_until = utcnow() - dt.timedelta(seconds=1)  # the lock has run out
    db_session.commit()
    assert post_sign_in(client, account.email, PASSWORD).status_code == 302


def test_a_deactivated_account_cannot_sign_in(client, db_session):
    account = staff(db_session, is_active=False)
    assert post_sign_in(client, account.email, PASSWORD).status_code == 400
    assert signed_in(client) is None


def test_empty_fields_are_named(client):
    token = psc_flow.csrf_token(client, "/connexion")
    response = client.post("/connexion", data={"csrf_token": token, "email": "", "password": ""})
    assert response.status_code == 400
    errors = [p.get_text() for p in page(response).select(".fr-message--error")]
    assert errors == ["Saisissez votre adresse e-mail.", "Saisissez votre mot de passe."]


def test_posting_without_csrf_token_is_refused(client, db_session):
    account = staff(db_session)
    response = client.post("/connexion", data={"email": account.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in page(response).get_text()
    assert signed_in(client) is None


def test_sign_in_is_rate_limited(client, db_session):
    account = staff(db_session)
    statuses = [post_sign_in(client, account.email, "x").status_code for _ in range(11)]
    assert statuses[-1] == 429
    assert "Trop de tentatives" in page(post_sign_in(client, account.email, PASSWORD)).get_text()
    assert signed_in(client) is None


def test_the_session_is_renewed_at_sign_in(client, db_session):
    account = staff(db_session)
    with client.session_transaction() as flask_session:
        flask_session["planted"] = "by an attacker"
    post_sign_in(client, account.email, PASSWORD)
    with client.session_transaction() as flask_session:
        assert "planted" not in flask_session
