"""Fixtures shared by the whole suite.

The schema is built once per run by the Alembic migrations and seeded once; every test then
runs inside a transaction that is rolled back, so tests see the seed data and never each
other's. With TEST_DATABASE_URL set (CI), the same suite runs on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.exc import SAWarning
from sqlmodel import Session

from portal.app import create_app
from portal.config import PROJECT_ROOT, Settings
from portal.db import database, import_all_models, include_schema_name, session_scope
from portal.security import limiter
from portal.seed import seed_database

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
IN_CI = os.environ.get("CI") == "true"


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    return config


def schema_differences(connection: sa.Connection) -> list:
    """Where the migrated schema and the models differ (Alembic's autogenerate comparison).

    SQLite's reflection skips expression indexes with a warning; ``include_schema_name``
    leaves the unmodelled ones out of the comparison anyway, so the warning is silenced.
    """
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_schema_name}
    )
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        return compare_metadata(context, import_all_models().metadata)


def fresh_postgres_database(url: str, name: str | None) -> str:
    """Empty the schema of the test database, or create a separate database ``name``."""
    if name is None:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
        return url
    server = sa.engine.make_url(url)
    name = f"{server.database}_{name}"  # stays apart from other checkouts' test databases
    engine = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def migrated_database_url(directory: Path, name: str | None = None) -> str:
    """A freshly migrated database: PostgreSQL when TEST_DATABASE_URL is set, else SQLite.

    Without ``name`` it is the suite's own database; with one, a separate database.
    """
    if TEST_DATABASE_URL:
        url = (
            Settings(database_url="sqlite://")
            .with_overrides(database_url=TEST_DATABASE_URL)
            .database_url
        )
        url = fresh_postgres_database(url, name)
    else:
        url = f"sqlite:///{directory / ((name or 'portal') + '.sqlite3')}"
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def settings(instance_dir: Path) -> Settings:
    url = migrated_database_url(instance_dir)
    return Settings(
        portal_env="test",
        database_url=url,
        redis_url=REDIS_URL,
        instance_dir=instance_dir,
    ).with_overrides()


@pytest.fixture(scope="session")
def app(settings: Settings):
    app = create_app(settings)
    with app.app_context(), session_scope(app) as session:
        seed_database(session)
    return app


@contextlib.contextmanager
def rolled_back_session(app) -> Iterator[Session]:
    """Every request of ``app`` shares one session whose work is rolled back afterwards."""
    db = database(app)
    connection = db.engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    original_factory = db.session_factory
    db.session_factory = lambda: session
    try:
        yield session
    finally:
        db.session_factory = original_factory
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def db_session(app) -> Iterator[Session]:
    """A session whose work is rolled back after the test; the app's requests share it."""
    with rolled_back_session(app) as session:
        yield session


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def app_context(app, db_session):
    with app.test_request_context():
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("server") and not (TEST_DATABASE_URL or REDIS_URL):
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL/Redis: set TEST_DATABASE_URL and REDIS_URL "
                    "(CI does; `bash .ci/run` starts both)"
                )
            )


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if IN_CI and skipped:
        terminalreporter.write_line(
            f"CI refuses skipped tests: {len(skipped)} skipped (see the reasons above).", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Many tests sign in from one address: each starts with fresh rate-limit counters."""
    with contextlib.suppress(Exception):  # the limiter has no storage before an app exists
        limiter.reset()
    yield


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright, headless; one browser per test module."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(
            f"browser test: Debian's Chromium is not installed ({CHROMIUM}); "
            "`apt-get install chromium` (`bash .ci/run` does)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
