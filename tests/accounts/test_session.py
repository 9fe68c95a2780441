"""The signed-in account is read in one place; an unknown or inactive one is nobody."""

from __future__ import annotations

from flask import session

from portal.accounts.models import Activity
from portal.accounts.session import (
    current_account,
    current_professional,
    current_structure_ids,
    login_required,
    sign_in,
    sign_out,
)
from tests.factories import make_account, make_professional, make_structure


def test_sign_in_keeps_only_the_language_and_identifies_the_professional(app, db_session):
    professional = make_professional(db_session)
    structure = make_structure(db_session)
    db_session.add(Activity(professional_id=professional.id, structure_id=structure.id))
    account = make_account(db_session, professional_id=professional.id)
    with app.test_request_context("/"):
        session["lang"] = "en"
        session["leftover"] = "from before"
        sign_in(account, method="test")
        assert "leftover" not in session
        assert session["lang"] == "en"
        assert current_account().id == account.id
        assert current_professional().id == professional.id
        assert current_structure_ids() == {structure.id}
        sign_out()
        assert current_account() is None
        assert session["lang"] == "en"


def test_an_inactive_account_is_not_signed_in(app, db_session):
    account = make_account(db_session, is_active=False)
    with app.test_request_context("/"):
        session["account_id"] = account.id
        assert current_account() is None


def test_login_required_sends_to_the_sign_in_page_and_back(app, db_session):
    @login_required
    def private():
        return "secret"

    with app.test_request_context("/commandes/3?x=1"):
        response = private()
        assert response.status_code == 302
        assert response.location == "/connexion?next=%2Fcommandes%2F3%3Fx%3D1"
