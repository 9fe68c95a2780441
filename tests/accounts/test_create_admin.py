"""`flask --app portal accounts create-admin EMAIL`: the first platform administrator."""

from __future__ import annotations

from sqlmodel import select

from portal.accounts.models import Account, Membership
from portal.accounts.passwords import check_password
from portal.mail.models import OutboxMessage

PASSWORD = "premier administrateur"


def test_create_admin_with_a_password(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["accounts", "create-admin", "Chef@Plateforme.example"],
        input=f"court\ncourt\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "au moins 12 caractères" in result.output
    account = db_session.exec(
        select(Account).where(Account.email == "chef@plateforme.example")
    ).one()
    assert check_password(account, PASSWORD)
    assert db_session.exec(
        select(Membership).where(Membership.account_id == account.id)
    ).one().role == ("platform_admin")


def test_create_admin_by_invitation(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["accounts", "create-admin", "invitee@plateforme.example", "--invite"]
    )
    assert result.exit_code == 0, result.output
    message = db_session.exec(
        select(OutboxMessage).where(OutboxMessage.to_address == "invitee@plateforme.example")
    ).one()
    assert "/invitation/" in message.body_text


def test_create_admin_refuses_a_bad_email(app):
    result = app.test_cli_runner().invoke(args=["accounts", "create-admin", "pas-une-adresse"])
    assert result.exit_code != 0
    assert "is not a valid e-mail address" in result.output
