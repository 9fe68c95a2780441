"""Sign a test client in without going through an identity provider (for tests of other domains)."""

from __future__ import annotations

from portal.accounts.models import Account


def sign_in_client(client, account: Account, method: str = "test") -> None:
    with client.session_transaction() as flask_session:
        flask_session.clear()
        flask_session["account_id"] = account.id
        flask_session["sign_in_method"] = method
