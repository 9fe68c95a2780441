# SQL in this module is assembled from module constants (table and column names), never from
# input; every value is a bound parameter or goes through COPY.
# ruff: noqa: S608
"""Import and export of the public extraction, streaming, in bounded memory.

Import reads the file (``.txt`` or the published ``.zip``) line by line, validates each line,
and loads the good ones into a temporary staging table (PostgreSQL ``COPY``, SQLite batched
inserts). Only when the whole file has been read does it swap the new directory in, in the same
transaction as the load: imported entries are replaced, entries created by the portal stay, and
the flags professionals set on imported entries (preferred address, liste rouge) are carried
over. Any error or interruption before the commit leaves the previous directory untouched.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import multiprocessing.pool
import os
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

from portal.db import utcnow
from portal.directory.extraction import (
    FIELDS,
    HEADER_LINE,
    HeaderError,
    Layout,
    LineRejected,
    clean_line,
    format_line,
    parse_line,
    read_header,
)
from portal.directory.indexing import LineIndexer, typo_terms
from portal.directory.models import DirectoryEntry
from portal.directory.search import SQLITE_FTS_TAGS

MAX_LINE_BYTES = 64 * 1024  # a real line is < 1 KB; anything longer is not this format
KEPT_REJECTIONS = 1000  # rejections kept in the report; the rest are counted
KEPT_DUPLICATES = 1000
STAGING = "directory_import"  # SQLite: the temporary staging table
NEXT = "directoryentry_next"  # the table that becomes the directory at the swap
STAGED_COLUMNS = ("line_no", *FIELDS, "holder_key", "search_text", "search_prefixes")
SQLITE_BATCH = 5000
CHUNK_LINES = 5000  # lines validated together, by this process or a worker
PARALLEL_MIN_BYTES = 16 << 20  # smaller files are validated in this process
PROGRESS_BYTES = 1 << 20  # progress is reported at least every this many bytes read
_COLUMNS = ", ".join([*FIELDS, "holder_key", "search_text", "search_prefixes"])


class ImportAborted(Exception):
    """The import stopped before the swap; the previous directory is unchanged."""


@dataclass
class ImportReport:
    source: str
    lines_read: int = 0
    entries_loaded: int = 0
    rejected_count: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    warning_count: int = 0
    duplicate_lines: int = 0
    duplicates: list[tuple[str, list[int]]] = field(default_factory=list)
    kept_portal_entries: int = 0
    shadowed_by_portal: int = 0
    swapped: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # per phase
    terms: set[str] = field(default_factory=set, repr=False)  # typo vocabulary found

    def reject(self, line_no: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejections) < KEPT_REJECTIONS:
            self.rejections.append((line_no, reason))

    def warn(self, line_no: int, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT_REJECTIONS:
            self.warnings.append((line_no, message))

    def lines(self) -> list[str]:
        out = [
            f"File: {self.source}",
            f"Lines read (without the header): {self.lines_read}",
            f"Entries loaded: {self.entries_loaded}",
            f"Lines rejected: {self.rejected_count}",
            f"Duplicate addresses merged: {len(self.duplicates) if self.duplicate_lines else 0}"
            f" ({self.duplicate_lines} extra line(s); the first line of each address is kept)",
            f"Portal entries kept: {self.kept_portal_entries}"
            + (
                f" ({self.shadowed_by_portal} imported line(s) skipped: the portal already "
                "publishes that address)"
                if self.shadowed_by_portal
                else ""
            ),
        ]
        for line_no, reason in self.rejections:
            out.append(f"  line {line_no}: rejected: {reason}")
        if self.rejected_count > len(self.rejections):
            out.append(f"  … and {self.rejected_count - len(self.rejections)} more rejected lines")
        for address, line_numbers in self.duplicates:
            numbers = ", ".join(str(n) for n in line_numbers)
            out.append(f"  {address}: lines {numbers} merged (line {line_numbers[0]} kept)")
        if self.warning_count:
            out.append(f"Warnings: {self.warning_count}")
            for line_no, message in self.warnings:
                out.append(f"  line {line_no}: warning: {message}")
        out.append(
            "The new directory is in place."
            if self.swapped
            else "The previous directory is unchanged."
        )
        return out


# --- Reading ------------------------------------------------------------------------------


@contextmanager
def open_extraction(path: Path) -> Iterator[tuple[IO[bytes], int]]:
    """The extraction's bytes and their size, from a ``.txt`` or a ``.zip`` holding one."""
    if not path.exists():
        raise ImportAborted(f"{path} does not exist.")
    if zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise ImportAborted(f"{path} is a damaged zip archive: {error}.") from error
        with archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            texts = [info for info in members if info.filename.lower().endswith((".txt", ".csv"))]
            chosen = texts or members
            if len(chosen) != 1:
                raise ImportAborted(
                    f"{path} holds {len(chosen)} files; expected exactly one extraction (.txt)."
                )
            with archive.open(chosen[0]) as stream:
                yield stream, chosen[0].file_size
        return
    with path.open("rb") as stream:
        yield stream, path.stat().st_size


def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, bytes without end of line or None if too long, bytes consumed)."""
    line_no = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        consumed = len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            # Skip the rest of this overlong line without holding it in memory.
            while True:
                chunk = stream.readline(MAX_LINE_BYTES)
                consumed += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield line_no, None, consumed
            continue
        yield line_no, raw.rstrip(b"\r\n"), consumed


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LineRejected(
            f"is not valid UTF-8 (byte 0x{raw[error.start]:02x} at position {error.start + 1})."
        ) from error


def extraction_size(path: Path) -> int:
    """Bytes of text the import will read (the uncompressed size for a zip), for progress."""
    with open_extraction(path) as (_stream, size):
        return size


# --- Loading ------------------------------------------------------------------------------


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format with '|' between columns (NULL is empty)."""
    if value is None or value == "":
        return ""
    text_value = str(value)
    if any(character in text_value for character in "\\|\n\r\t"):
        text_value = (
            text_value.replace("\\", "\\\\")
            .replace("|", "\\|")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\t", "\\t")
        )
    return text_value


@dataclass
class _Chunk:
    """What a run of consecutive lines gave: the rows to load (COPY text on PostgreSQL, tuples
    on SQLite), rejections and warnings by line number, and typo terms not returned before."""

    lines_read: int = 0
    copy_text: str = ""
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rejections: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    terms: set[str] = field(default_factory=set)


class _LineProcessor:
    """Validates and indexes lines, chunk by chunk, in this process or in a worker."""

    def __init__(self, layout: Layout, postgresql: bool, copy_suffix: str):
        self.layout = layout
        self.postgresql = postgresql
        self.copy_suffix = copy_suffix
        self.indexer = LineIndexer(prefixes=postgresql)
        self.returned_terms: set[str] = set()

    def __call__(self, lines: list[tuple[int, bytes | None]]) -> _Chunk:
        chunk = _Chunk()
        layout, index, suffix = self.layout, self.indexer, self.copy_suffix
        trailing = layout.trailing_separator
        copy_rows: list[str] = []
        for line_no, raw in lines:
            if raw is not None and not raw.strip():
                continue  # blank lines (a final newline) are not data
            chunk.lines_read += 1
            try:
                if raw is None:
                    raise LineRejected(f"is longer than {MAX_LINE_BYTES} bytes.")
                line = _decode(raw)
                clean = clean_line(line, layout)
                if clean is None:
                    parsed = parse_line(line, layout)
                    warnings = parsed.warnings
                    values: list[Any] = [parsed.values[name] for name in FIELDS]
                    indexed = index(values)
                    if self.postgresql:
                        copy_rows.append(
                            f"{line_no}|{'|'.join(map(_copy_text, values))}|"
                            f"{'|'.join(map(_copy_text, indexed))}{suffix}"
                        )
                    else:
                        chunk.rows.append((line_no, *values, *indexed))
                else:
                    values, warnings = clean
                    key, search_text, prefixes = index(values)
                    if self.postgresql:
                        # A clean line needs no escaping: it is its own COPY text.
                        text_line = line[:-1] if trailing else line
                        copy_rows.append(
                            f"{line_no}|{text_line}|{key}|{search_text}|{prefixes}{suffix}"
                        )
                    else:
                        chunk.rows.append(
                            (line_no, *(value or None for value in values), key, search_text, None)
                        )
            except LineRejected as error:
                chunk.rejections.append((line_no, str(error)))
                continue
            for warning in warnings:
                chunk.warnings.append((line_no, warning))
        chunk.copy_text = "".join(copy_rows)
        chunk.terms = index.terms - self.returned_terms
        self.returned_terms |= chunk.terms
        index.terms = set()
        return chunk


_WORKER: _LineProcessor | None = None


def _start_worker(layout: Layout, postgresql: bool, copy_suffix: str) -> None:
    global _WORKER  # one processor per worker process, made once
    _WORKER = _LineProcessor(layout, postgresql, copy_suffix)
    gc.disable()  # see _without_cycle_collection


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Validating a line makes short-lived lists, tuples and dicts that reference counting
    frees, and the remembered words of names and places are many long-lived tuples: the cycle
    collector, triggered by all these allocations, kept rescanning them (≈30 % of the time of
    validation). No cycles are made meanwhile, so it is paused for the reading."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _process_in_worker(lines: list[tuple[int, bytes | None]]) -> _Chunk:
    assert _WORKER is not None
    return _WORKER(lines)


class _Loader:
    """Where validated rows go while the file is read."""

    copy_suffix = ""

    def write(self, chunk: _Chunk) -> None:
        raise NotImplementedError

    def close(self, error: BaseException | None = None) -> None:
        raise NotImplementedError


class _PostgresLoader(_Loader):
    """Streams the rows with ``COPY`` straight into ``directoryentry_next``, the table that will
    become the directory, each row carrying its line number (``import_line``, dropped before
    the swap) so that duplicates can be reported. Nothing is visible to other sessions until
    the transaction commits."""

    def __init__(self, connection: Connection):
        run = connection.exec_driver_sql
        run(f"DROP TABLE IF EXISTS {NEXT}")
        run(
            f"CREATE TABLE {NEXT} (LIKE directoryentry INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING GENERATED)"
        )
        run(f"ALTER TABLE {NEXT} ADD COLUMN import_line integer")
        now = utcnow().isoformat()
        # liste_rouge, preferred, source, created_at, updated_at: the same for every line.
        self.copy_suffix = f"|f|f|import|{now}|{now}\n"
        self._cursor = connection.connection.driver_connection.cursor()
        self._copy_context = self._cursor.copy(
            f"COPY {NEXT} (import_line, {_COLUMNS}, liste_rouge, preferred, source, "
            "created_at, updated_at) FROM STDIN WITH (DELIMITER '|', NULL '')"
        )
        self._copy = self._copy_context.__enter__()

    def write(self, chunk: _Chunk) -> None:
        if chunk.copy_text:
            self._copy.write(chunk.copy_text)

    def close(self, error: BaseException | None = None) -> None:
        if self._copy_context is None:
            return
        context, self._copy_context = self._copy_context, None
        if error is None:
            context.__exit__(None, None, None)
        else:
            context.__exit__(type(error), error, error.__traceback__)
        self._cursor.close()


class _SqliteStager(_Loader):
    """Writes validated rows to a temporary staging table with batched inserts."""

    def __init__(self, connection: Connection):
        self.connection = connection
        columns = ", ".join(
            f"{name} integer" if name == "line_no" else f"{name} text" for name in STAGED_COLUMNS
        )
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGING}")
        connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {STAGING} ({columns})")
        placeholders = ", ".join("?" for _ in STAGED_COLUMNS)
        self.insert = f"INSERT INTO {STAGING} ({', '.join(STAGED_COLUMNS)}) VALUES ({placeholders})"

    def write(self, chunk: _Chunk) -> None:
        if chunk.rows:
            self.connection.exec_driver_sql(self.insert, chunk.rows)

    def close(self, error: BaseException | None = None) -> None:
        """Nothing to flush: each chunk was inserted as it came."""


# --- Import -------------------------------------------------------------------------------


def import_extraction(
    engine: Engine,
    path: Path,
    *,
    progress: Callable[[int], None] | None = None,
    max_rejected_ratio: float = 0.01,
    allow_shrink: bool = False,
    workers: int | None = None,
) -> ImportReport:
    """Replace the imported part of the directory with the extraction at ``path``.

    Raises :class:`ImportAborted` (directory unchanged) when the file is not the format, when
    more than ``max_rejected_ratio`` of its lines are rejected, or when it would remove more than
    half of the imported entries (a truncated file) unless ``allow_shrink``.

    On PostgreSQL, lines are validated by ``workers`` processes (default: one per CPU for
    files of more than :data:`PARALLEL_MIN_BYTES`, none for smaller ones) while this process
    reads the file and streams their rows, in file order, to the database.
    """
    report = ImportReport(source=str(path))
    with engine.connect() as connection, connection.begin():
        postgresql = connection.dialect.name == "postgresql"
        if postgresql:
            # Room for the duplicates' grouping and the index builds, in this transaction only.
            connection.exec_driver_sql("SET LOCAL work_mem = '128MB'")
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        started = time.perf_counter()
        with open_extraction(path) as (stream, size):
            if workers is None:
                workers = (os.cpu_count() or 1) if size > PARALLEL_MIN_BYTES else 0
            _stage(stream, connection, report, progress, workers if postgresql else 0)
        report.seconds["read, validate and load"] = time.perf_counter() - started
        _check_thresholds(report, max_rejected_ratio)
        if postgresql:
            _swap_in_postgresql(connection, report, report.terms, allow_shrink)
        else:
            started = time.perf_counter()
            _swap(connection, report, report.terms, allow_shrink)
            report.seconds["swap"] = time.perf_counter() - started
    report.swapped = True
    return report


def _stage(
    stream: IO[bytes],
    connection: Connection,
    report: ImportReport,
    progress: Callable[[int], None] | None,
    workers: int,
) -> None:
    lines = read_lines(stream)
    first = next(lines, None)
    if first is None:
        raise ImportAborted("The file is empty: the header line is missing.")
    _, header_raw, consumed = first
    try:
        layout = read_header(_decode(header_raw or b""))
    except (HeaderError, LineRejected) as error:
        raise ImportAborted(
            str(error) if isinstance(error, HeaderError) else f"Line 1 {error}"
        ) from error
    postgresql = connection.dialect.name == "postgresql"
    loader = _PostgresLoader(connection) if postgresql else _SqliteStager(connection)
    try:
        with _without_cycle_collection():
            chunks = _chunks(lines, progress, consumed)
            if workers > 0:
                # Forked workers start at once with everything imported, and do not re-run the
                # caller's main module as spawned ones would; they never touch the inherited
                # database connection and leave through os._exit.
                methods = multiprocessing.get_all_start_methods()
                context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
                with context.Pool(
                    workers, _start_worker, (layout, postgresql, loader.copy_suffix)
                ) as pool:
                    _load(_in_order(pool, chunks, window=2 * workers + 1), loader, report)
            else:
                _load(
                    map(_LineProcessor(layout, postgresql, loader.copy_suffix), chunks),
                    loader,
                    report,
                )
    except BaseException as error:
        loader.close(error)
        raise
    loader.close()


def _chunks(
    lines: Iterator[tuple[int, bytes | None, int]],
    progress: Callable[[int], None] | None,
    pending_progress: int,
) -> Iterator[list[tuple[int, bytes | None]]]:
    chunk: list[tuple[int, bytes | None]] = []
    for line_no, raw, consumed in lines:
        pending_progress += consumed
        chunk.append((line_no, raw))
        if len(chunk) >= CHUNK_LINES:
            yield chunk
            chunk = []
            if progress is not None and pending_progress >= PROGRESS_BYTES:
                progress(pending_progress)
                pending_progress = 0
    if chunk:
        yield chunk
    if progress is not None and pending_progress:
        progress(pending_progress)


def _in_order(
    pool: multiprocessing.pool.Pool, chunks: Iterator[list[tuple[int, bytes | None]]], window: int
) -> Iterator[_Chunk]:
    """The workers' results in file order, with at most ``window`` chunks in flight, so that
    memory stays bounded however large the file."""
    pending: deque[multiprocessing.pool.AsyncResult[_Chunk]] = deque()
    for chunk in chunks:
        pending.append(pool.apply_async(_process_in_worker, (chunk,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def _load(results: Iterator[_Chunk], loader: _Loader, report: ImportReport) -> None:
    for chunk in results:
        loader.write(chunk)
        report.lines_read += chunk.lines_read
        for line_no, reason in chunk.rejections:
            report.reject(line_no, reason)
        for line_no, message in chunk.warnings:
            report.warn(line_no, message)
        report.terms |= chunk.terms


def _check_thresholds(report: ImportReport, max_rejected_ratio: float) -> None:
    if report.lines_read == 0:
        raise ImportAborted("The file has a header but no data line.")
    if report.rejected_count == report.lines_read:
        raise ImportAborted("Every line was rejected: this file cannot be imported.")
    ratio = report.rejected_count / report.lines_read
    if ratio > max_rejected_ratio:
        raise ImportAborted(
            f"{report.rejected_count} of {report.lines_read} lines were rejected "
            f"({ratio:.1%}, more than the {max_rejected_ratio:.1%} allowed): fix the file or "
            "raise --max-rejected."
        )


def _swap(
    connection: Connection, report: ImportReport, terms: set[str], allow_shrink: bool
) -> None:
    """SQLite: merge the staged lines into the next directory table and put it in place."""
    run = connection.exec_driver_sql
    run(f"CREATE INDEX {STAGING}_address ON {STAGING} (address, line_no)")
    _collect_duplicates(connection, report)

    distinct = run(f"SELECT COUNT(DISTINCT address) FROM {STAGING}").scalar_one()
    current = run("SELECT COUNT(*) FROM directoryentry WHERE source = 'import'").scalar_one()
    if current and distinct < current / 2 and not allow_shrink:
        raise ImportAborted(
            f"The file holds {distinct} addresses while the directory has {current} imported "
            "entries: it looks truncated. Use --allow-shrink if the drop is real."
        )

    # Choices professionals made on imported entries survive the re-import.
    run("DROP TABLE IF EXISTS directory_import_flags")
    run(
        "CREATE TEMPORARY TABLE directory_import_flags AS SELECT address, preferred, liste_rouge "
        "FROM directoryentry WHERE source = 'import' AND (preferred OR liste_rouge)"
    )
    _swap_sqlite(connection, report)
    report.shadowed_by_portal = distinct - report.entries_loaded
    _rebuild_terms(connection, terms)
    run(f"DROP TABLE {STAGING}")
    run("DROP TABLE directory_import_flags")


def _insert_first_lines(connection: Connection, target: str, first_lines: str) -> int:
    """Insert each address's first line, unless a kept (portal) entry already has it."""
    result = connection.execute(
        text(
            f"INSERT INTO {target} ({_COLUMNS}, liste_rouge, preferred, source, created_at, "
            f"updated_at) SELECT {_COLUMNS}, false, false, 'import', :now, :now "
            f"FROM ({first_lines}) AS first_lines WHERE NOT EXISTS "
            f"(SELECT 1 FROM {target} AS kept WHERE kept.address = first_lines.address)"
        ),
        {"now": utcnow()},
    )
    connection.exec_driver_sql(
        f"UPDATE {target} SET preferred = f.preferred, liste_rouge = f.liste_rouge "
        f"FROM directory_import_flags AS f WHERE f.address = {target}.address "
        f"AND {target}.source = 'import'"
    )
    return result.rowcount


def _swap_in_postgresql(
    connection: Connection, report: ImportReport, terms: set[str], allow_shrink: bool
) -> None:
    """Finish ``directoryentry_next`` (loaded by :class:`_PostgresLoader`) and put it in place.

    Duplicates are merged and the indexes built in bulk before anything is locked: readers and
    writers go on using the current directory meanwhile. Then, under an exclusive lock (readers
    still read), the portal's own entries and the professionals' flags are carried over from the
    current table, as they are at that moment, and the new table is renamed into place.
    """
    run = connection.exec_driver_sql
    timings = report.seconds
    started = time.perf_counter()
    loaded = run(f"SELECT COUNT(*) FROM {NEXT}").scalar_one()
    run("DROP TABLE IF EXISTS directory_import_duplicates")
    run(
        "CREATE TEMPORARY TABLE directory_import_duplicates AS SELECT address, "
        "array_agg(import_line ORDER BY import_line) AS lines, "
        "array_agg(ctid ORDER BY import_line) AS rows "
        f"FROM {NEXT} GROUP BY address HAVING COUNT(*) > 1"
    )
    # Each address keeps its first line.
    run(
        f"DELETE FROM {NEXT} WHERE ctid = ANY(ARRAY("
        "SELECT unnest(rows[2:]) FROM directory_import_duplicates))"
    )
    report.duplicate_lines = run(
        "SELECT COALESCE(SUM(cardinality(lines) - 1), 0) FROM directory_import_duplicates"
    ).scalar_one()
    report.duplicates = [
        (address, list(lines))
        for address, lines in run(
            "SELECT address, lines FROM directory_import_duplicates ORDER BY address "
            f"LIMIT {KEPT_DUPLICATES}"
        )
    ]
    run("DROP TABLE directory_import_duplicates")
    run(f"ALTER TABLE {NEXT} DROP COLUMN import_line")
    distinct = loaded - report.duplicate_lines
    current = run("SELECT COUNT(*) FROM directoryentry WHERE source = 'import'").scalar_one()
    if current and distinct < current / 2 and not allow_shrink:
        raise ImportAborted(
            f"The file holds {distinct} addresses while the directory has {current} imported "
            "entries: it looks truncated. Use --allow-shrink if the drop is real."
        )
    timings["merge duplicates"] = time.perf_counter() - started

    started = time.perf_counter()
    constraints = run(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'directoryentry'::regclass AND contype IN ('p', 'u', 'f')"
    ).all()
    indexes = run(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'directoryentry' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint "
        "WHERE conrelid = 'directoryentry'::regclass)"
    ).all()
    for name, definition in constraints:
        run(f'ALTER TABLE {NEXT} ADD CONSTRAINT "{name}__next" {definition}')
    timings["constraints (primary key, unique address, foreign key)"] = (
        time.perf_counter() - started
    )
    started = time.perf_counter()
    full_text = 0.0
    for name, definition in indexes:
        head, _, tail = definition.partition(" ON ")
        table, _, rest = tail.partition(" USING ")
        index_started = time.perf_counter()
        run(
            f"{head.replace(name, name + '__next', 1)} ON "
            f"{table.replace('directoryentry', NEXT, 1)} USING {rest}"
        )
        if rest.startswith("gin"):
            full_text += time.perf_counter() - index_started
    timings["other index builds"] = time.perf_counter() - started - full_text
    timings["full-text (GIN) index build"] = full_text
    started = time.perf_counter()
    run(f"ANALYZE {NEXT}")
    timings["analyze"] = time.perf_counter() - started

    started = time.perf_counter()
    # Before the lock: a portal entry written meanwhile adds its own words (add_terms).
    _rebuild_terms(connection, terms)
    timings["typo vocabulary"] = time.perf_counter() - started

    started = time.perf_counter()
    # Writers (the publisher, professionals' choices) wait from here until the commit;
    # readers keep reading the current directory until the very end.
    run("LOCK TABLE directoryentry IN EXCLUSIVE MODE")
    # The portal's own entries win over imported lines with the same address.
    report.shadowed_by_portal = run(
        f"DELETE FROM {NEXT} AS next USING directoryentry AS kept "
        "WHERE kept.source <> 'import' AND kept.address = next.address"
    ).rowcount
    columns = ", ".join(
        f'"{name}"'
        for (name,) in run(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'directoryentry'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"
        )
    )
    report.kept_portal_entries = run(
        f"INSERT INTO {NEXT} ({columns}) SELECT {columns} FROM directoryentry "
        "WHERE source <> 'import'"
    ).rowcount
    report.entries_loaded = distinct - report.shadowed_by_portal
    # Choices professionals made on imported entries survive the re-import.
    run(
        f"UPDATE {NEXT} AS next SET preferred = old.preferred, liste_rouge = old.liste_rouge "
        "FROM directoryentry AS old WHERE old.source = 'import' "
        "AND (old.preferred OR old.liste_rouge) AND next.address = old.address "
        "AND next.source = 'import'"
    )
    sequence = run("SELECT pg_get_serial_sequence('directoryentry', 'id')").scalar_one()
    if sequence:
        run(f"ALTER SEQUENCE {sequence} OWNED BY {NEXT}.id")
    run("DROP TABLE directoryentry")
    run(f"ALTER TABLE {NEXT} RENAME TO directoryentry")
    for name, _ in constraints:
        run(f'ALTER TABLE directoryentry RENAME CONSTRAINT "{name}__next" TO "{name}"')
    for name, _ in indexes:
        run(f'ALTER INDEX "{name}__next" RENAME TO "{name}"')
    timings["swap under lock"] = time.perf_counter() - started


def _swap_sqlite(connection: Connection, report: ImportReport) -> None:
    """Build the next directory table, index it once loaded, and rename it into place; the FTS5
    index is rebuilt in one pass. SQLite readers keep their WAL snapshot until the commit."""
    run = connection.exec_driver_sql
    schema = run(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND "
        "(tbl_name = 'directoryentry' OR name = 'directoryentry_fts')"
    ).all()
    table_sql = next(sql for kind, name, sql in schema if name == "directoryentry")
    indexes = [sql for kind, _name, sql in schema if kind == "index"]
    triggers = [sql for kind, _name, sql in schema if kind == "trigger"]
    fts_sql = next((sql for _kind, name, sql in schema if name == "directoryentry_fts"), None)

    _, _, rest = table_sql.partition("(")
    run(f"CREATE TABLE directoryentry_next ({rest}")
    run("INSERT INTO directoryentry_next SELECT * FROM directoryentry WHERE source <> 'import'")
    report.kept_portal_entries = run("SELECT COUNT(*) FROM directoryentry_next").scalar_one()
    report.entries_loaded = _insert_first_lines(
        connection,
        "directoryentry_next",
        f"SELECT {_COLUMNS} FROM {STAGING} WHERE line_no IN "
        f"(SELECT MIN(line_no) FROM {STAGING} GROUP BY address)",
    )
    run("DROP TABLE directoryentry")  # its indexes and triggers go with it
    run("ALTER TABLE directoryentry_next RENAME TO directoryentry")
    for sql in indexes:
        run(sql)
    if fts_sql is not None:
        run("DROP TABLE directoryentry_fts")
        run(fts_sql)
        run(
            "INSERT INTO directoryentry_fts(rowid, search_text, tags) "
            f"SELECT id, search_text, {SQLITE_FTS_TAGS} FROM directoryentry"
        )
    for sql in triggers:
        run(sql)


def _collect_duplicates(connection: Connection, report: ImportReport) -> None:
    rows = connection.exec_driver_sql(
        f"SELECT address, line_no FROM {STAGING} WHERE address IN (SELECT address FROM {STAGING} "
        "GROUP BY address HAVING COUNT(*) > 1) ORDER BY address, line_no"
    )
    current: tuple[str, list[int]] | None = None
    groups = 0
    for address, line_no in rows:
        if current is None or current[0] != address:
            groups += 1
            if current is not None and len(report.duplicates) < KEPT_DUPLICATES:
                report.duplicates.append(current)
            current = (address, [])
        else:
            report.duplicate_lines += 1
        current[1].append(line_no)
    if current is not None and len(report.duplicates) < KEPT_DUPLICATES:
        report.duplicates.append(current)


def _rebuild_terms(connection: Connection, terms: set[str]) -> None:
    from sqlmodel import Session, select

    from portal.directory.models import DirectoryEntry

    with Session(bind=connection) as session:
        for entry in session.exec(select(DirectoryEntry).where(DirectoryEntry.source != "import")):
            terms.update(typo_terms(entry.model_dump()))
    connection.exec_driver_sql("DELETE FROM directoryterm")
    ordered = sorted(terms)
    for start in range(0, len(ordered), SQLITE_BATCH):
        connection.execute(
            text("INSERT INTO directoryterm (term, reversed_term) VALUES (:term, :reversed)"),
            [
                {"term": term, "reversed": term[::-1]}
                for term in ordered[start : start + SQLITE_BATCH]
            ],
        )


# --- Export -------------------------------------------------------------------------------


def export_extraction(
    engine: Engine, path: Path, *, progress: Callable[[int], None] | None = None
) -> int:
    """Write the public directory (liste rouge left out) in the extraction format.

    A ``.zip`` path gets a zip holding one ``.txt``. The file appears only once complete.
    Returns the number of entries written.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=".directory-export-", dir=directory)
    os.close(handle)
    written = 0
    try:
        if path.suffix.lower() == ".zip":
            with (
                zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive,
                archive.open(path.with_suffix(".txt").name, "w", force_zip64=True) as raw,
            ):
                written = _write_lines(engine, raw, progress)
        else:
            with open(temporary, "wb") as raw:
                written = _write_lines(engine, raw, progress)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written


def _write_lines(engine: Engine, raw: IO[bytes], progress: Callable[[int], None] | None) -> int:
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    out.write(HEADER_LINE + "\n")
    written = 0
    with engine.connect() as connection:
        table = DirectoryEntry.__table__
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(
            select(*(table.c[name] for name in FIELDS))
            .where(table.c.liste_rouge.is_(False))
            .order_by(table.c.address)
        )
        for row in result:
            out.write(format_line(dict(zip(FIELDS, row, strict=True))) + "\n")
            written += 1
            if progress is not None and written % 10000 == 0:
                progress(10000)
    out.flush()
    out.detach()
    return written
