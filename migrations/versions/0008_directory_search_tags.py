"""Directory search: the filters (profession, mailbox type, département) inside the text index.

A search with a filter used to find every entry matching the words through the full-text index,
then read each row to check the filter: "Centre hospitalier" for médecins read 18,000 rows at a
million entries to return none. The index now holds a tag per filter, so the filter narrows the
index scan itself and only matching rows are read:

- PostgreSQL: the GIN index also covers ``=p<profession code>`` and ``=t<mailbox type>``
  (``=p10``, ``=tper``), built from the columns (no new data); a département is already the
  indexed beginning of the postcode (``^75``).
- SQLite: the FTS5 table indexes word beginnings up to 6 characters like PostgreSQL (it
  stopped at 4) and gets a second column, ``tags`` (``p10 tper d75``: profession, type and
  département, i.e. the first two characters of the postcode, and three for 97x/98x), kept in
  step by the triggers. User words are matched in the ``search_text`` column only. A
  département used to be matched as the prefix ``75*`` of any word, which every RPPS starting
  with those digits matched too.

The exact filters are still applied on the rows; the tags only make the index do the narrowing.
Importing rebuilds both (``portal.directory.importer`` copies the index definitions and fills
the FTS5 table with :data:`portal.directory.search.SQLITE_FTS_TAGS`).

Revision ID: 0008_directory_search_tags
Revises: 0007_subsidy_price_end
"""

# ruff: noqa: S608  (the statements are built from constants of this file only)

from collections.abc import Sequence

from alembic import op

revision: str = "0008_directory_search_tags"
down_revision: str | Sequence[str] | None = "0007_subsidy_price_end"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Codes are folded to [a-z0-9] so that no character of theirs can break the tsvector literal.
POSTGRESQL_INDEX = (
    "CREATE INDEX ix_directoryentry_fts ON directoryentry USING gin ((("
    "coalesce(search_text, '') || ' ' || coalesce(search_prefixes, '') || ' =p' || "
    "regexp_replace(lower(coalesce(profession_code, '')), '[^a-z0-9]', '', 'g') || ' =t' || "
    "regexp_replace(lower(mailbox_type), '[^a-z0-9]', '', 'g'))::tsvector))"
)
POSTGRESQL_PREVIOUS_INDEX = (
    "CREATE INDEX ix_directoryentry_fts ON directoryentry USING gin "
    "(((coalesce(search_text, '') || ' ' || coalesce(search_prefixes, ''))::tsvector))"
)


def _tags(row: str) -> str:
    return (
        f"'p' || coalesce({row}.profession_code, '') || ' t' || lower({row}.mailbox_type) || "
        f"' d' || substr(coalesce({row}.postal_code, ''), 1, 2) || "
        f"CASE WHEN {row}.postal_code GLOB '9[78]*' "
        f"THEN ' d' || substr({row}.postal_code, 1, 3) ELSE '' END"
    )


# Beginnings of 2 to 6 characters are indexed as entries of their own, as on PostgreSQL
# (migration 0006): "masson*" or "pharma*" is then one list, not the merge of every word it
# starts (measured at a million entries: 0.7 against 1.1 ms, 1.0 against 7.5 ms; the FTS5
# table grows from 207 to 262 MB and takes 5 s more to fill).
FTS5_OPTIONS = "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6'"
FTS5_PREVIOUS_OPTIONS = "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4'"
SQLITE_UP = (
    "DROP TRIGGER IF EXISTS directoryentry_fts_update",
    "DROP TRIGGER IF EXISTS directoryentry_fts_delete",
    "DROP TRIGGER IF EXISTS directoryentry_fts_insert",
    "DROP TABLE IF EXISTS directoryentry_fts",
    f"CREATE VIRTUAL TABLE directoryentry_fts USING fts5(search_text, tags, {FTS5_OPTIONS})",
    "CREATE TRIGGER directoryentry_fts_insert AFTER INSERT ON directoryentry BEGIN "
    "INSERT INTO directoryentry_fts(rowid, search_text, tags) "
    f"VALUES (new.id, new.search_text, {_tags('new')}); END",
    "CREATE TRIGGER directoryentry_fts_delete AFTER DELETE ON directoryentry BEGIN "
    "DELETE FROM directoryentry_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER directoryentry_fts_update AFTER UPDATE OF search_text, profession_code, "
    "mailbox_type, postal_code ON directoryentry BEGIN "
    "DELETE FROM directoryentry_fts WHERE rowid = old.id; "
    "INSERT INTO directoryentry_fts(rowid, search_text, tags) "
    f"VALUES (new.id, new.search_text, {_tags('new')}); END",
    "INSERT INTO directoryentry_fts(rowid, search_text, tags) "
    f"SELECT id, search_text, {_tags('directoryentry')} FROM directoryentry",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS directoryentry_fts_update",
    "DROP TRIGGER IF EXISTS directoryentry_fts_delete",
    "DROP TRIGGER IF EXISTS directoryentry_fts_insert",
    "DROP TABLE IF EXISTS directoryentry_fts",
    f"CREATE VIRTUAL TABLE directoryentry_fts USING fts5(search_text, {FTS5_PREVIOUS_OPTIONS})",
    "CREATE TRIGGER directoryentry_fts_insert AFTER INSERT ON directoryentry BEGIN "
    "INSERT INTO directoryentry_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER directoryentry_fts_delete AFTER DELETE ON directoryentry BEGIN "
    "DELETE FROM directoryentry_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER directoryentry_fts_update AFTER UPDATE OF search_text ON directoryentry BEGIN "
    "DELETE FROM directoryentry_fts WHERE rowid = old.id; "
    "INSERT INTO directoryentry_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO directoryentry_fts(rowid, search_text) SELECT id, search_text FROM directoryentry",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        op.execute("DROP INDEX IF EXISTS ix_directoryentry_fts")
        op.execute(POSTGRESQL_INDEX)
        return
    for statement in SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_directoryentry_fts")
        op.execute(POSTGRESQL_PREVIOUS_INDEX)
        return
    for statement in SQLITE_DOWN:
        op.execute(statement)
