"""Directory: an index for FHIR ``mailbox-mss`` searches by the beginning of an address.

``mailbox-mss`` is a FHIR string search: by default the address *starts with* the value, case
ignored, so the API compares ``lower(address)``, which no index covered (0.5 to 3 s a query at a
million entries, every row read). The index is on that very expression:

- PostgreSQL: ``text_pattern_ops``, so that ``lower(address) LIKE 'prefix%'`` becomes an index
  range whatever the database's collation;
- SQLite: a plain expression index, which the API reaches through the range
  ``lower(address) >= 'prefix' AND lower(address) < 'prefiy'`` (SQLite's LIKE optimisation only
  applies to bare columns).

``mailbox-mss:exact`` already uses the unique index on ``address``. ``:contains`` gets no index:
a pg_trgm GIN index on ``lower(address)`` took 11.8 s to build at a million entries (against
0.9 s for this B-tree) on every import, and needs a database extension.

Importing rebuilds this index like the others (``portal.directory.importer`` copies the
definitions from ``pg_indexes`` / ``sqlite_master``).

Revision ID: 0009_directory_address_prefix
Revises: 0008_directory_search_tags
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_directory_address_prefix"
down_revision: str | Sequence[str] | None = "0008_directory_search_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_directoryentry_address_lower"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {INDEX} ON directoryentry (lower(address) text_pattern_ops)")
    else:
        op.execute(f"CREATE INDEX {INDEX} ON directoryentry (lower(address))")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
