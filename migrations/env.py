"""Alembic environment: the schema is SQLModel.metadata; the URL comes from portal.config."""

from __future__ import annotations

from logging.config import fileConfig

import sqlalchemy
from alembic import context

from portal.config import load_settings
from portal.db import create_engine, import_all_models, include_schema_name

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = import_all_models().metadata


def _url() -> str:
    # Tests pass the URL explicitly; otherwise DATABASE_URL decides, like the application.
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def _configure(**kwargs) -> None:
    url = kwargs.pop("url", None) or _url()
    context.configure(
        url=url if "connection" not in kwargs else None,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=include_schema_name,
        render_as_batch=url.startswith("sqlite"),  # SQLite alters tables by copying them
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = _url()
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        connection = engine.connect()
    except sqlalchemy.exc.OperationalError as error:
        where = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
        reason = str(error.orig).strip().splitlines()[0]
        raise SystemExit(
            f"Cannot migrate {where}: the database does not answer ({reason}). "
            "Start it, or fix DATABASE_URL."
        ) from None
    with connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    _configure(connection=connection, url=str(connection.engine.url))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
