"""The PostgreSQL connection pool: a connection idle in the pool is checked before use, one
used a moment ago is not (one round trip less per job)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import portal.db
from portal.db import create_engine

pytestmark = pytest.mark.server


@pytest.fixture
def engine(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
    engine = create_engine(settings.database_url)
    pings = []
    ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda connection: pings.append(connection) or ping(connection)
    engine.pings = pings
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT pg_backend_pid()"))


def test_a_connection_used_a_moment_ago_is_not_checked_again(engine):
    first = backend_pid(engine)
    assert backend_pid(engine) == first
    assert engine.pings == []


def test_a_connection_idle_in_the_pool_is_checked_before_use(engine, monkeypatch):
    first = backend_pid(engine)
    monkeypatch.setattr(portal.db, "RECENTLY_USED_SECONDS", 0.0)
    assert backend_pid(engine) == first
    assert len(engine.pings) == 1


def test_a_connection_closed_by_the_server_while_idle_is_replaced(engine, monkeypatch):
    first = backend_pid(engine)
    monkeypatch.setattr(portal.db, "RECENTLY_USED_SECONDS", 0.0)
    admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()

    second = backend_pid(engine)

    assert second != first
    assert len(engine.pings) == 1
