"""Commands of `flask --app portal …` that belong to no single domain."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask

from portal.db import database, session_scope
from portal.seed import SeedError, seed_database


@click.command("seed")
def seed_command() -> None:
    """Load regions, départements, operators and offers from seed/ (idempotent)."""
    if "alembic_version" not in sa.inspect(database().engine).get_table_names():
        raise click.ClickException(
            "The database has no schema yet: run `alembic upgrade head` (or `make run`) first."
        )
    try:
        with session_scope() as session:
            report = seed_database(session)
    except SeedError as error:
        raise click.ClickException(str(error)) from error
    for line in report.lines():
        click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_command)
