"""Import of the national extraction: validation report, atomic swap, round trip, export."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from portal.db import create_engine
from portal.directory import importer
from portal.directory.extraction import FIELDS, Layout, LineRejected, clean_line, parse_line
from portal.directory.importer import ImportAborted, export_extraction, import_extraction
from portal.directory.indexing import LineIndexer, index_values, typo_terms
from portal.directory.models import DirectoryEntry, DirectoryTerm
from tests.conftest import migrated_database_url, schema_differences
from tests.directory.extraction_lines import HEADER, line, org, per

GOOD_PER = per("marie.dupont@medecin.mssante.fr", "10000000001", "Dupont", "Marie")


def fixture_file(path: Path) -> Path:
    """Every kind of good and bad line, with the line number each one lands on."""
    lines = [
        HEADER,  # 1
        GOOD_PER,  # 2
        per("m.dupont@autre.mssante.fr", "10000000001", "Dupont", "Marie"),  # 3
        org(
            "accueil@cds-voltaire.mssante.fr",
            "010000024",
            "Centre de santé Voltaire",
            service="Accueil",
        ),  # 4
        per(
            "marie.dupont@medecin.mssante.fr",
            "10000000001",
            "Dupont",
            "Marie",
            structure_id_type="1",
            structure_id="010000024",
        ),  # 5 duplicate of 2
        GOOD_PER.rsplit("|", 1)[0],  # 6: 30 columns
        GOOD_PER + "|extra",  # 7: 32 columns
        None,  # 8: invalid UTF-8 (written as bytes below)
        line(mailbox_type="XYZ", address="x@pro.mssante.fr"),  # 9
        per("jean@gmail.com", "10000000002", "Martin", "Jean"),  # 10
        per("jean.martin@pro.mssante.fr", "1000000002", "Martin", "Jean"),  # 11: RPPS of 10 digits
        per(
            "jean.martin@pro.mssante.fr", "10000000002", "Martin", "Jean", postal_code="7501"
        ),  # 12
        org(
            "robot@labo.mssante.fr",
            "73282932000074",
            "Laboratoire Pasteur",
            mailbox_type="APP",
            structure_id_type="3",
        ),  # 13
        line(
            mailbox_type="CAB",
            address="cabinet.leroy@pro.mssante.fr",
            pp_id_type="0",
            pp_id="2A1234567",
            idnps="02A1234567",
            last_name="Leroy",
            first_name="Élodie",
        ),  # 14
        org(
            "pharmacie@officine.mssante.fr", "010000025", "Pharmacie des Écoles"
        ),  # 15: FINESS Luhn warning
        line(
            mailbox_type="PER",
            address="p@pro.mssante.fr",
            pp_id_type="8",
            pp_id="10000000003",
            idnps="810000000009",
        ),  # 16
        "",  # blank final line
    ]
    with path.open("wb") as out:
        for text in lines:
            if text is None:
                out.write(b"PER|caf\xe9@pro.mssante.fr" + b"|" * 29 + b"\n")
            else:
                out.write(text.encode() + b"\n")
    return path


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    url = migrated_database_url(
        tmp_path_factory.mktemp("directory-import"), name="directory_import"
    )
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def empty_directory(engine):
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM directoryentry")
        connection.exec_driver_sql("DELETE FROM directoryterm")
    return engine


def entries(engine) -> dict[str, DirectoryEntry]:
    with Session(engine) as session:
        return {entry.address: entry for entry in session.exec(select(DirectoryEntry)).all()}


def snapshot(engine) -> list[tuple]:
    return sorted(
        tuple(getattr(entry, name) for name in (*FIELDS, "source", "liste_rouge", "preferred"))
        for entry in entries(engine).values()
    )


def add_portal_entry(engine, address="portal.only@pro.mssante.fr", **values):
    with Session(engine) as session:
        fields = {
            "address": address,
            "mailbox_type": "PER",
            "idnps": "810000000055",
            "last_name": "Portail",
            **values,
        }
        index_values(fields)
        session.add(DirectoryEntry(**fields, source="portal"))
        session.commit()


def test_import_reports_every_rejected_line_and_loads_the_good_ones(empty_directory, tmp_path):
    report = import_extraction(
        empty_directory, fixture_file(tmp_path / "extraction.txt"), max_rejected_ratio=1
    )

    assert report.lines_read == 15
    rejected = dict(report.rejections)
    assert sorted(rejected) == [6, 7, 8, 9, 10, 11, 12, 16]
    assert "has 30 columns, expected 31" in rejected[6]
    assert "has 32 columns, expected 31" in rejected[7]
    assert "not valid UTF-8" in rejected[8]
    assert "unknown mailbox type 'XYZ'" in rejected[9]
    assert "not an MSSanté address" in rejected[10]
    assert "invalid RPPS number" in rejected[11]
    assert "postal code '7501'" in rejected[12]
    assert "should be '810000000003'" in rejected[16]
    assert report.duplicates == [("marie.dupont@medecin.mssante.fr", [2, 5])]
    assert report.warnings == [(15, "FINESS 010000025 fails the Luhn check (kept).")]
    assert report.entries_loaded == 6
    assert report.swapped

    loaded = entries(empty_directory)
    assert sorted(loaded) == [
        "accueil@cds-voltaire.mssante.fr",
        "cabinet.leroy@pro.mssante.fr",
        "m.dupont@autre.mssante.fr",
        "marie.dupont@medecin.mssante.fr",
        "pharmacie@officine.mssante.fr",
        "robot@labo.mssante.fr",
    ]
    marie = loaded["marie.dupont@medecin.mssante.fr"]
    assert marie.structure_id is None  # line 2 wins over its duplicate on line 5
    assert (marie.idnps, marie.holder_key, marie.source) == (
        "810000000001",
        "P:810000000001",
        "import",
    )
    assert loaded["cabinet.leroy@pro.mssante.fr"].idnps == "02A1234567"
    assert loaded["robot@labo.mssante.fr"].holder_key == "S:373282932000074"
    with Session(empty_directory) as session:
        terms = set(session.exec(select(DirectoryTerm.term)).all())
    assert {"dupont", "marie", "elodie", "voltaire", "ecoles"} <= terms
    text = "\n".join(report.lines())
    assert "line 8: rejected: is not valid UTF-8" in text
    assert "The new directory is in place." in text


def test_round_trip_import_export_import_is_identical(empty_directory, tmp_path):
    import_extraction(
        empty_directory, fixture_file(tmp_path / "extraction.txt"), max_rejected_ratio=1
    )
    first = snapshot(empty_directory)
    exported = tmp_path / "export.txt"
    assert export_extraction(empty_directory, exported) == 6
    report = import_extraction(empty_directory, exported)
    assert report.rejected_count == 0 and report.entries_loaded == 6
    assert snapshot(empty_directory) == first
    assert export_extraction(empty_directory, tmp_path / "again.txt") == 6
    assert (tmp_path / "again.txt").read_bytes() == exported.read_bytes()


def test_zip_as_published_is_read_and_export_can_write_zip(empty_directory, tmp_path):
    source = fixture_file(tmp_path / "extraction.txt")
    archive = tmp_path / "Extraction_Correspondance_MSSante.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(source, "Extraction_Correspondance_MSSante.txt")
    report = import_extraction(empty_directory, archive, max_rejected_ratio=1)
    assert report.entries_loaded == 6
    zipped = tmp_path / "export.zip"
    export_extraction(empty_directory, zipped)
    with zipfile.ZipFile(zipped) as result:
        assert result.namelist() == ["export.txt"]
        assert result.read("export.txt").decode().count("\n") == 7


def test_portal_entries_and_professionals_choices_survive_a_reimport(empty_directory, tmp_path):
    add_portal_entry(empty_directory)
    add_portal_entry(empty_directory, address="m.dupont@autre.mssante.fr", idnps="810000000001")
    path = fixture_file(tmp_path / "extraction.txt")
    import_extraction(empty_directory, path, max_rejected_ratio=1)
    with empty_directory.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE directoryentry SET preferred = true WHERE address = 'marie.dupont@medecin.mssante.fr'"
        )
        connection.exec_driver_sql(
            "UPDATE directoryentry SET liste_rouge = true WHERE address = 'pharmacie@officine.mssante.fr'"
        )

    report = import_extraction(empty_directory, path, max_rejected_ratio=1)

    loaded = entries(empty_directory)
    assert loaded["portal.only@pro.mssante.fr"].source == "portal"
    assert loaded["m.dupont@autre.mssante.fr"].source == "portal"  # portal wins its address
    assert report.kept_portal_entries == 2 and report.shadowed_by_portal == 1
    assert loaded["marie.dupont@medecin.mssante.fr"].preferred is True
    assert loaded["pharmacie@officine.mssante.fr"].liste_rouge is True


def test_liste_rouge_is_never_exported(empty_directory, tmp_path):
    import_extraction(
        empty_directory, fixture_file(tmp_path / "extraction.txt"), max_rejected_ratio=1
    )
    with empty_directory.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE directoryentry SET liste_rouge = true WHERE address = 'robot@labo.mssante.fr'"
        )
    export_extraction(empty_directory, tmp_path / "export.txt")
    assert "robot@labo.mssante.fr" not in (tmp_path / "export.txt").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "header line is missing"),
        (
            HEADER.replace("|", ";").encode() + b"\n" + GOOD_PER.replace("|", ";").encode(),
            "separated by ';'",
        ),
        (b"Nom|Prenom\n", r"Line 1 \(header\) has 2 column\(s\)"),
        (HEADER.encode() + b"\n", "no data line"),
        (HEADER.encode() + b"\n" + b"garbage\n" * 50, "Every line was rejected"),
    ],
)
def test_unusable_files_abort_and_keep_the_current_directory(
    empty_directory, tmp_path, content, message
):
    import_extraction(empty_directory, fixture_file(tmp_path / "good.txt"), max_rejected_ratio=1)
    before = snapshot(empty_directory)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(ImportAborted, match=message):
        import_extraction(empty_directory, bad)
    assert snapshot(empty_directory) == before


def test_too_many_rejected_lines_abort(empty_directory, tmp_path):
    with pytest.raises(ImportAborted, match=r"8 of 15 lines were rejected"):
        import_extraction(empty_directory, fixture_file(tmp_path / "extraction.txt"))
    assert entries(empty_directory) == {}


def test_truncated_file_is_refused_unless_shrink_is_allowed(empty_directory, tmp_path):
    lines = [HEADER] + [
        per(f"pro{n}@pro.mssante.fr", f"{10000000100 + n}", "Nom", "Prénom") for n in range(10)
    ]
    (tmp_path / "full.txt").write_text("\n".join(lines) + "\n")
    import_extraction(empty_directory, tmp_path / "full.txt")
    (tmp_path / "cut.txt").write_text("\n".join(lines[:4]) + "\n" + lines[4][:40])
    with pytest.raises(ImportAborted, match="looks truncated"):
        import_extraction(empty_directory, tmp_path / "cut.txt", max_rejected_ratio=1)
    assert len(entries(empty_directory)) == 10
    report = import_extraction(
        empty_directory, tmp_path / "cut.txt", max_rejected_ratio=1, allow_shrink=True
    )
    assert report.rejections[0][0] == 5 and report.entries_loaded == 3


def test_an_interrupted_import_changes_nothing(empty_directory, tmp_path):
    import_extraction(empty_directory, fixture_file(tmp_path / "good.txt"), max_rejected_ratio=1)
    before = snapshot(empty_directory)
    lines = [HEADER] + [
        per(f"n{n}@pro.mssante.fr", f"{10000001000 + n}", "Nouveau", "Nom") for n in range(3000)
    ]
    (tmp_path / "big.txt").write_text("\n".join(lines) + "\n")

    def interrupt(_bytes):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_extraction(empty_directory, tmp_path / "big.txt", progress=interrupt)
    assert snapshot(empty_directory) == before


def test_overlong_line_is_rejected_without_reading_it_whole(empty_directory, tmp_path):
    path = tmp_path / "long.txt"
    with path.open("wb") as out:
        out.write(HEADER.encode() + b"\n" + GOOD_PER.encode() + b"\n")
        out.write(b"x" * (3 * 1024 * 1024) + b"\n")
        out.write(per("after@pro.mssante.fr", "10000000009", "Après", "Ligne").encode() + b"\n")
    report = import_extraction(empty_directory, path, max_rejected_ratio=1)
    assert report.rejections == [(3, "is longer than 65536 bytes.")]
    assert sorted(entries(empty_directory)) == [
        "after@pro.mssante.fr",
        "marie.dupont@medecin.mssante.fr",
    ]


def test_cli_import_and_export(app, empty_directory, tmp_path, monkeypatch):
    from portal.directory import cli

    monkeypatch.setattr(cli, "database", lambda: type("D", (), {"engine": empty_directory})())
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["directory", "import", str(fixture_file(tmp_path / "e.txt")), "--max-rejected", "100"]
    )
    assert result.exit_code == 0, result.output
    assert "Entries loaded: 6" in result.output
    assert "line 11: rejected: has an invalid RPPS number" in result.output
    result = runner.invoke(args=["directory", "import", str(tmp_path / "missing.txt")])
    assert result.exit_code != 0
    assert "does not exist. The previous directory is unchanged." in result.output
    result = runner.invoke(args=["directory", "export", str(tmp_path / "out.txt")])
    assert result.exit_code == 0 and "Entries written: 6" in result.output
    assert sa.inspect(empty_directory).has_table("directoryentry")


def test_schema_search_index_and_ids_survive_the_swap(empty_directory, tmp_path):
    from portal.directory.search import SearchFilters, search_directory

    path = fixture_file(tmp_path / "extraction.txt")
    import_extraction(empty_directory, path, max_rejected_ratio=1)
    import_extraction(empty_directory, path, max_rejected_ratio=1)
    with empty_directory.connect() as connection:
        assert schema_differences(connection) == []
        if connection.dialect.name == "postgresql":
            names = {
                row[0]
                for row in connection.exec_driver_sql(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'directoryentry'"
                )
            }
        else:
            names = {
                row[0]
                for row in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = 'directoryentry'"
                )
            }
        assert "ix_directoryentry_address_lower" in names  # FHIR mailbox-mss (0009)
        if connection.dialect.name == "postgresql":
            assert {
                "pk_directoryentry",
                "ix_directoryentry_address",
                "ix_directoryentry_fts",
            } <= names
    with Session(empty_directory) as session:
        page = search_directory(session, SearchFilters(q="voltaire"))
        assert [holder.name for holder in page.results] == ["Centre de santé Voltaire"]
        # Word beginnings work on the swapped table (PostgreSQL: the "^volt" lexemes).
        page = search_directory(session, SearchFilters(q="volt cent", place="69"))
        assert [holder.name for holder in page.results] == ["Centre de santé Voltaire"]
        # The filters' tags are indexed for the swapped rows too (migration 0008).
        page = search_directory(session, SearchFilters(q="dupont", profession="10"))
        assert [holder.name for holder in page.results] == ["Marie Dupont"]
        assert search_directory(session, SearchFilters(q="dupont", profession="60")).total == 0
        page = search_directory(session, SearchFilters(q="centre", mailbox_type="ORG"))
        assert [holder.name for holder in page.results] == ["Centre de santé Voltaire"]
        assert search_directory(session, SearchFilters(q="dupont", place="69")).total == 0
        highest = max(entry.id for entry in session.exec(select(DirectoryEntry)).all())
    add_portal_entry(empty_directory, address="after.swap@pro.mssante.fr")
    assert entries(empty_directory)["after.swap@pro.mssante.fr"].id > highest
    with Session(empty_directory) as session:
        page = search_directory(session, SearchFilters(q="portail"))
        assert page.total == 1  # the FTS triggers work again after the swap


# --- The fast paths give exactly what the general ones give ----------------------------------
# Clean lines are validated by clean_line and indexed by LineIndexer, large files by worker
# processes, and PostgreSQL receives rows as COPY text: each must store the same entries and
# write the same report as the line-by-line rules of parse_line and index_values.

GOOD = per("marie.dupont@medecin.mssante.fr", "10000000001", "Dupont", "Marie")
LINES = [
    GOOD,
    per("helene.loeuvre@pro.mssante.fr", "10000000002", "Lœuvre", "Hélène"),
    per("x@pro.mssante.fr", "10000000003", "O'Brien-Muller", "Zoë", service="Cardio"),
    org("accueil@cds.mssante.fr", "010000024", "Centre de santé Voltaire", service="Accueil"),
    org("a@officine.mssante.fr", "010000025", "Pharmacie des Écoles"),  # Luhn warning
    org("b@cds.mssante.fr", "1010000024", "Centre", service="Urgences"),  # IDNST spelling
    org("c@labo.mssante.fr", "73282932000074", "Labo", mailbox_type="APP", structure_id_type="3"),
    org("d@labo.mssante.fr", "73282932000075", "Labo", mailbox_type="APP", structure_id_type="3"),
    org("e@cds.mssante.fr", "2A0000024", "Centre corse"),
    org("f@cds.mssante.fr", "ab12", "Cabinet", structure_id_type="4"),
    org("g@cds.mssante.fr", "AB12", "Cabinet", structure_id_type="4"),
    line(
        mailbox_type="CAB",
        address="cabinet.leroy@pro.mssante.fr",
        pp_id_type="0",
        pp_id="2A1234567",
        idnps="02A1234567",
        last_name="Leroy",
    ),
    GOOD.replace("PER", "per", 1),
    GOOD.replace("marie.dupont", "Marie.Dupont"),
    GOOD.replace("|Dupont|", "| Dupont |"),
    GOOD.replace("|Dupont|", "|Dupont\u00a0|"),
    GOOD.replace("|Dupont|", "|Du\tpont|"),
    GOOD.replace("|Dupont|", "|Du\\pont|"),
    GOOD.replace("|Dupont|", "|   |"),
    GOOD.replace("|Dupont|", "|" + "D" * 121 + "|"),
    GOOD.replace("|Dupont|", "|" + "D" * 120 + "|"),
    GOOD.replace("810000000001", ""),
    GOOD.replace("810000000001", "810000000002"),
    GOOD.replace("|8|10000000001|", "|8|1000000000|"),
    GOOD.replace("|8|10000000001|", "|8|10000000001 |"),
    GOOD.replace("75011", "7501", 1),
    GOOD.replace("75011", "٧٥٠١١", 1),
    GOOD.replace("|8|10000000001|810000000001|", "|||"),
    GOOD.replace("mssante.fr", "gmail.com"),
    GOOD.replace("PER", "XYZ", 1),
    GOOD + "|",
    GOOD + "|x",
    GOOD.rsplit("|", 1)[0],
    GOOD.replace("|Dupont|", "|Du\x00pont|"),
    GOOD.replace("|Dupont|", "|Du\u200bpont|"),
    " " + GOOD,
    GOOD + " ",
    org("h@cds.mssante.fr", "", "Sans identifiant", structure_id_type=""),
    org("i@cds.mssante.fr", "010000024", "Type inconnu", structure_id_type="9"),
]


def _slow(text: str, layout: Layout) -> tuple[list, list[str]] | str:
    try:
        parsed = parse_line(text, layout)
    except LineRejected as error:
        return str(error)
    return [parsed.values[name] for name in FIELDS], parsed.warnings


@pytest.mark.parametrize("trailing", [False, True])
def test_clean_line_accepts_only_what_parse_line_accepts_unchanged(trailing):
    layout = Layout(trailing_separator=trailing)
    accepted = 0
    for text in LINES:
        text = text + "|" if trailing else text
        fast = clean_line(text, layout)
        slow = _slow(text, layout)
        if fast is None:
            continue
        accepted += 1
        values, warnings = fast
        assert not isinstance(slow, str), (text, slow)
        assert ([value or None for value in values], warnings) == slow, text
    assert accepted >= 10  # the common lines do take the fast path


def test_clean_line_leaves_every_rejection_to_parse_line():
    layout = Layout(trailing_separator=False)
    rejected = [text for text in LINES if isinstance(_slow(text, layout), str)]
    assert len(rejected) >= 12
    assert all(clean_line(text, layout) is None for text in rejected)


def test_line_indexer_gives_the_same_search_columns_as_index_values():
    layout = Layout(trailing_separator=False)
    indexer = LineIndexer(prefixes=True)
    terms: set[str] = set()
    for text in LINES:
        slow = _slow(text, layout)
        if isinstance(slow, str):
            continue
        values = slow[0]
        expected = index_values(dict(zip(FIELDS, values, strict=True)))
        terms |= typo_terms(expected)
        key, search_text, prefixes = indexer(values)
        assert (key, search_text, prefixes) == (
            expected["holder_key"],
            expected["search_text"],
            expected["search_prefixes"],
        )
        # Clean lines are indexed from their raw values ("" for empty): same result.
        fast = clean_line(text, layout)
        if fast is not None:
            assert indexer(fast[0]) == (key, search_text, prefixes)
    assert indexer.terms == terms
    assert LineIndexer(prefixes=False)(_slow(GOOD, layout)[0])[2] is None


def _stored(engine) -> dict[str, tuple]:
    columns = (*FIELDS, "holder_key", "search_text", "source", "preferred", "liste_rouge")
    with Session(engine) as session:
        return {
            entry.address: tuple(getattr(entry, name) for name in columns)
            for entry in session.exec(select(DirectoryEntry))
        }


def _many_lines(path, count=400):
    lines = [HEADER, *LINES]
    for n in range(count):
        lines.append(
            per(
                f"p{n}@pro.mssante.fr",
                f"{10000002000 + n}",
                f"Nom{n % 7}",
                "Élodie" if n % 2 else "Jean",
                service="Service\\ à part" if n % 50 == 0 else "",
            )
        )
        if n % 97 == 0:
            lines.append(lines[-1])  # a duplicate address, reported with its line numbers
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_workers_and_chunks_give_the_same_directory_and_report(
    empty_directory, tmp_path, monkeypatch
):
    path = _many_lines(tmp_path / "many.txt")
    single = import_extraction(empty_directory, path, max_rejected_ratio=1, workers=0)
    stored = _stored(empty_directory)
    monkeypatch.setattr(importer, "CHUNK_LINES", 7)
    parallel = import_extraction(empty_directory, path, max_rejected_ratio=1, workers=2)
    assert _stored(empty_directory) == stored
    for name in (
        "lines_read",
        "entries_loaded",
        "rejected_count",
        "rejections",
        "warnings",
        "duplicate_lines",
        "duplicates",
    ):
        assert getattr(parallel, name) == getattr(single, name), name
    first = len(LINES) + 2  # after the header and LINES
    assert ("p0@pro.mssante.fr", [first, first + 1]) in single.duplicates
    assert single.entries_loaded == len(stored)
    # Values that need escaping on their way to PostgreSQL arrive intact.
    assert stored["p0@pro.mssante.fr"][FIELDS.index("service")] == "Service\\ à part"
    assert stored["helene.loeuvre@pro.mssante.fr"][FIELDS.index("last_name")] == "Lœuvre"


def test_an_import_interrupted_in_a_worker_run_changes_nothing(
    empty_directory, tmp_path, monkeypatch
):
    import_extraction(empty_directory, fixture_file(tmp_path / "good.txt"), max_rejected_ratio=1)
    before = snapshot(empty_directory)
    path = _many_lines(tmp_path / "many.txt", count=3000)
    monkeypatch.setattr(importer, "CHUNK_LINES", 50)
    calls = []

    def interrupt(_bytes):
        calls.append(_bytes)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(importer, "PROGRESS_BYTES", 1000)
    with pytest.raises(KeyboardInterrupt):
        import_extraction(empty_directory, path, progress=interrupt, workers=2)
    assert snapshot(empty_directory) == before
    assert len(calls) == 2  # it stopped in the middle of the file
