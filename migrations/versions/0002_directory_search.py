"""Directory search: holder key, typo vocabulary and the full-text index of each database.

The full-text index is raw DDL that autogenerate does not model: on SQLite an FTS5 table kept in
step by triggers, on PostgreSQL a GIN index on the 'simple' text-search vector of the already
folded ``search_text``. ``portal.db.include_schema_name`` keeps them out of model comparisons.

Revision ID: 0002_directory_search
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002_directory_search"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = (
    # A plain FTS5 table keyed by the entry id; prefix indexes make "dupo*" cheap.
    "CREATE VIRTUAL TABLE directoryentry_fts USING fts5("
    "search_text, tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')",
    "CREATE TRIGGER directoryentry_fts_insert AFTER INSERT ON directoryentry BEGIN "
    "INSERT INTO directoryentry_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER directoryentry_fts_delete AFTER DELETE ON directoryentry BEGIN "
    "DELETE FROM directoryentry_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER directoryentry_fts_update AFTER UPDATE OF search_text ON directoryentry BEGIN "
    "DELETE FROM directoryentry_fts WHERE rowid = old.id; "
    "INSERT INTO directoryentry_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO directoryentry_fts(rowid, search_text) SELECT id, search_text FROM directoryentry",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS directoryentry_fts_update",
    "DROP TRIGGER IF EXISTS directoryentry_fts_delete",
    "DROP TRIGGER IF EXISTS directoryentry_fts_insert",
    "DROP TABLE IF EXISTS directoryentry_fts",
)
POSTGRESQL_UP = (
    "CREATE INDEX ix_directoryentry_fts ON directoryentry "
    "USING gin (to_tsvector('simple', coalesce(search_text, '')))",
)
POSTGRESQL_DOWN = ("DROP INDEX IF EXISTS ix_directoryentry_fts",)


def upgrade() -> None:
    op.create_table(
        "directoryterm",
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("reversed_term", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_directoryterm")),
    )
    with op.batch_alter_table("directoryterm", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directoryterm_reversed_term"), ["reversed_term"], unique=False
        )

    with op.batch_alter_table("directoryentry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "holder_key",
                sqlmodel.sql.sqltypes.AutoString(length=260),
                nullable=False,
                server_default="",
            )
        )
        batch_op.create_index(
            batch_op.f("ix_directoryentry_holder_key"), ["holder_key"], unique=False
        )
    with op.batch_alter_table("directoryentry", schema=None) as batch_op:
        batch_op.alter_column("holder_key", server_default=None)

    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_DOWN
    for statement in statements:
        op.execute(statement)

    with op.batch_alter_table("directoryentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directoryentry_holder_key"))
        batch_op.drop_column("holder_key")

    with op.batch_alter_table("directoryterm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directoryterm_reversed_term"))

    op.drop_table("directoryterm")
