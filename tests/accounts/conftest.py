"""Fixtures for sign-in tests: the development identity provider served over real HTTP from a
thread, and a portal app pointed at it through PSC_METADATA_URL only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from portal.accounts import devidp
from portal.app import create_app
from tests.conftest import rolled_back_session

TEST_CLIENT_ID = "portail-tests"
TEST_CLIENT_SECRET = "secret-of-the-tests"


@pytest.fixture(scope="session")
def dev_idp() -> Iterator[str]:
    idp = devidp.create_dev_idp_app(
        portal_env="test", client_id=TEST_CLIENT_ID, client_secret=TEST_CLIENT_SECRET
    )
    server = devidp.serve_in_thread(idp)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


def psc_settings(settings, metadata_url: str):
    return settings.with_overrides(
        psc_metadata_url=metadata_url,
        psc_client_id=TEST_CLIENT_ID,
        psc_client_secret=TEST_CLIENT_SECRET,
    )


@pytest.fixture(scope="session")
def psc_app(app, settings, dev_idp):
    """The portal pointed at the development identity provider (``app`` seeds the database)."""
    return create_app(psc_settings(settings, devidp.metadata_url(dev_idp)))


@pytest.fixture
def psc_db_session(psc_app) -> Iterator[Session]:
    with rolled_back_session(psc_app) as session:
        yield session


@pytest.fixture
def psc_client(psc_app, psc_db_session):
    return psc_app.test_client()


def make_staff(session, role: str | None = None, *, password: str | None = None, **scope):
    """An e-mail account, with a role in a scope when ``role`` is given."""
    from portal.accounts.models import Membership
    from portal.accounts.passwords import hash_password
    from tests.factories import make_account

    account = make_account(session, password_hash=hash_password(password) if password else None)
    if role is not None:
        session.add(Membership(account_id=account.id, role=role, **scope))
        session.flush()
    return account
