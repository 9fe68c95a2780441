"""Directory search on PostgreSQL: index the folded words as a tsvector literal.

``search_text`` already holds folded ``[a-z0-9]+`` words separated by spaces, so reading it as a
tsvector literal gives the same lexemes as ``to_tsvector('simple', …)`` and builds the GIN index
about three times faster (measured by bench/directory.py), which matters when an import rebuilds
it for a million entries. Nothing changes on SQLite.

Revision ID: 0003_directory_search_vector
Revises: 0002_directory_search
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_directory_search_vector"
down_revision: str | Sequence[str] | None = "0002_directory_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_directoryentry_fts")
    op.execute(
        "CREATE INDEX ix_directoryentry_fts ON directoryentry "
        "USING gin ((coalesce(search_text, '')::tsvector))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_directoryentry_fts")
    op.execute(
        "CREATE INDEX ix_directoryentry_fts ON directoryentry "
        "USING gin (to_tsvector('simple', coalesce(search_text, '')))"
    )
