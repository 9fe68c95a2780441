"""Database engine, sessions and the column types every domain shares.

Views get the request's session with :func:`get_session`; services receive a session as an
argument; jobs and commands open one with :func:`session_scope`. The schema itself is only
ever created by Alembic migrations.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from portal.config import PROJECT_ROOT, Settings

# Named constraints keep migrations identical on SQLite (batch mode) and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def timestamp_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_field(default_factory: Callable[[], Any] = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=sa.JSON, nullable=False)


def text_field(*, nullable: bool = True, default: str | None = None) -> Any:
    return Field(default=default, sa_type=sa.Text, nullable=nullable)


class Database:
    """The engine and session factory of one application."""

    def __init__(self, settings: Settings):
        self.engine = create_engine(settings.database_url)
        self.session_factory: Callable[[], Session] = lambda: Session(
            self.engine, expire_on_commit=False
        )


def insert_with_conflicts(session: Session, model: Any) -> Any:
    """``INSERT`` into ``model``'s table in the session's database dialect, which knows
    ``ON CONFLICT`` (``on_conflict_do_nothing`` / ``on_conflict_do_update``)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite opens transactions itself and breaks SAVEPOINT; let SQLAlchemy do it.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    engine = sa.create_engine(url, pool_size=5, max_overflow=10)
    _ping_idle_connections(engine)
    return engine


# A pooled connection handed back less than this long ago is used without being checked first.
RECENTLY_USED_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Check that a pooled connection still works before using it, if it sat idle in the pool.

    SQLAlchemy's ``pool_pre_ping`` checks every connection at every checkout: one more round
    trip per transaction, which a worker pays for every job. A connection given back a moment
    ago is almost always alive; if the server went away in that moment, the first statement
    fails, SQLAlchemy discards the pool's connections, and the job is retried (a request
    answers with the error page once).
    """

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < RECENTLY_USED_SECONDS:
            return  # a new connection, or one used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and opens a new one in its place.
            raise sa.exc.DisconnectionError(f"connection lost while idle: {error}") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the web process read while a worker writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask, settings: Settings) -> None:
    if settings.database_url.startswith("sqlite:///"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app.extensions["portal_db"] = Database(settings)
    app.teardown_appcontext(_close_session)


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["portal_db"]


def get_session() -> Session:
    """The session of the current request (or app context), opened on first use."""
    if "db_session" not in g:
        g.db_session = database().session_factory()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextlib.contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session for a job or a command: committed on success, rolled back on error."""
    session = database(app).session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Schema objects created by raw DDL in migrations that no model describes (full-text indexes:
# SQLite's FTS5 table with its shadow tables, PostgreSQL's GIN index on an expression) and the
# expression index on lower(address) of migration 0009.
UNMODELLED_SCHEMA_PREFIXES = (
    "directoryentry_fts",
    "ix_directoryentry_fts",
    "ix_directoryentry_address_lower",
)


def include_schema_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: leave unmodelled objects out of model comparisons."""
    return not (name and name.startswith(UNMODELLED_SCHEMA_PREFIXES))


def schema_problem(engine: Engine) -> str | None:
    """Why the database's schema is behind this code's migrations (their Alembic head), in
    words; None when it is up to date.

    A database at a revision this code does not know is ahead of it (migrated for a newer
    release, which migrations keep compatible with the release before): not a problem here.
    """
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))
    expected = set(script.get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == expected:
        return None
    if not current:
        return "it has no tables yet"
    try:
        for revision in current:
            script.get_revision(revision)
    except CommandError:
        return None  # ahead of this code
    return (
        f"it is at revision {', '.join(sorted(current))}; this code expects "
        f"{', '.join(sorted(expected))}"
    )


def import_all_models() -> type[SQLModel]:
    """Import every domain's models so that SQLModel.metadata knows the whole schema."""
    from portal import models  # noqa: F401

    return SQLModel
