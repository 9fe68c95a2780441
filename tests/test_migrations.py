"""The schema exists only through migrations, and they match the models exactly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from portal.db import create_engine, schema_problem
from tests.conftest import alembic_config, migrated_database_url, schema_differences


def _differences(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = schema_differences(connection)
    engine.dispose()
    return diff


def test_upgrade_head_matches_the_models(settings):
    # The session database was built by `alembic upgrade head` (SQLite, or PostgreSQL in CI).
    assert _differences(settings.database_url) == []


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    url = migrated_database_url(tmp_path, name="roundtrip")
    config = alembic_config(url)
    command.downgrade(config, "base")
    engine = create_engine(url)
    tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert tables == set()
    command.upgrade(config, "head")
    assert _differences(url) == []


def test_an_unreachable_database_gives_one_clear_line():
    import subprocess
    import sys

    from portal.config import PROJECT_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Cannot migrate postgresql+psycopg://nobody@127.0.0.1:9/none" in result.stderr


def test_a_database_behind_the_code_is_described_in_words(settings, tmp_path):
    assert schema_problem(create_engine(settings.database_url)) is None

    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert schema_problem(create_engine(empty)) == "it has no tables yet"

    old = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(old), "0001")
    head = ScriptDirectory.from_config(alembic_config(old)).get_current_head()
    assert schema_problem(create_engine(old)) == (
        f"it is at revision 0001; this code expects {head}"
    )


def test_the_development_server_refuses_a_database_that_is_not_migrated(tmp_path):
    import subprocess
    import sys

    from portal.config import PROJECT_ROOT

    result = subprocess.run(
        [sys.executable, "-m", "portal.devserver", "--port", "0"],
        cwd=PROJECT_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PORTAL_ENV": "development",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
            # Not started here: the test is about the portal itself.
            "PSC_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
            "OPERATOR_SANDBOX_URL": "http://127.0.0.1:9/v1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        "The database is not ready (it has no tables yet). Run `make migrate` "
        "(alembic upgrade head), then start again."
    ) in result.stderr


def test_a_database_ahead_of_the_code_is_not_a_problem(tmp_path):
    # Migrated by a newer release: this one's tables are still there.
    newer = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    command.upgrade(alembic_config(newer), "head")
    engine = create_engine(newer)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    assert schema_problem(engine) is None
