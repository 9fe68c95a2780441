"""Reading a bulk-order file: encodings, separators, columns and a reason for every bad line."""

from __future__ import annotations

import time

import pytest

from portal.regions.bulk import BulkFileError, read_bulk_file

HEADER = "finess;siret;type;nom;departement;boites;responsable;email"
GOOD = "290000017;;pharmacie;Pharmacie du Port;29;officine|secretariat;Jeanne Martin;jm@example.org"


def read(db_session, text: str, *, encoding="utf-8", types=None):
    return read_bulk_file(
        text.encode(encoding), session=db_session, region_code="53", eligible_types=types
    )


def test_a_good_line_in_utf8_with_a_byte_order_mark(db_session):
    report = read_bulk_file(
        ("\ufeff" + HEADER + "\r\n" + GOOD + "\r\n\r\n").encode("utf-8"),
        session=db_session,
        region_code="53",
    )
    assert report.encoding == "UTF-8" and report.separator == ";"
    [line] = report.lines
    assert line.ok and line.finess == "290000017" and line.mailboxes == ["officine", "secretariat"]
    assert report.mailbox_count == 2


def test_windows_1252_and_commas_are_recognised(db_session):
    text = (
        HEADER.replace(";", ",")
        + "\n"
        + (
            "290000017,,Pharmacie d'officine,Pharmacie Élégance,29,officine,Hélène Noël,hn@example.org"
        )
    )
    report = read(db_session, text, encoding="cp1252")
    assert report.encoding == "Windows-1252" and report.separator == ","
    [line] = report.lines
    assert line.ok, line.errors
    assert line.values["name"] == "Pharmacie Élégance" and line.structure_type == "pharmacie"


def test_missing_columns_stop_the_whole_file(db_session):
    with pytest.raises(BulkFileError) as error:
        read(db_session, "finess;nom;departement\n290000017;X;29")
    message = str(error.value)
    assert "Colonnes manquantes" in message and "boites" in message and "type" in message


def test_a_wrong_separator_is_reported_as_missing_columns_with_what_was_detected(db_session):
    with pytest.raises(BulkFileError) as error:
        read(db_session, "finess:siret:type:nom\n1:2:3:4")
    assert "séparateur détecté" in str(error.value)


def test_every_bad_line_gets_its_reasons(db_session):
    lines = [
        HEADER,
        GOOD,
        "12345;;pharmacie;Bad FINESS;29;officine;A;a@example.org",
        ";73282932000075;pharmacie;Bad SIRET;29;officine;A;a@example.org",
        "290000025;;boulangerie;Unknown type;29;officine;A;a@example.org",
        "290000033;;pharmacie;Outside the region;75;officine;A;a@example.org",
        "290000041;;pharmacie;No mailbox;29;;A;not-an-email",
        "290000017;;pharmacie;Pharmacie du Port bis;29;accueil;Jeanne Martin;jm@example.org",
        "2A0000012;;pharmacie;Corsica is not Bretagne;2A;officine;A;a@example.org",
        ";73282932000074;msp;Maison de santé;35;secretariat|accueil;B;b@example.org",
    ]
    report = read(db_session, "\n".join(lines))
    by_line = {line.number: line for line in report.lines}
    assert by_line[2].ok and by_line[10].ok
    assert by_line[10].siret == "73282932000074" and by_line[10].structure_type == "msp"
    assert "FINESS « 12345 » invalide" in by_line[3].errors[0]
    assert "SIRET « 73282932000075 » invalide" in by_line[4].errors[0]
    assert "Type de structure « boulangerie » inconnu" in by_line[5].errors[0]
    assert "n’est pas dans votre région" in by_line[6].errors[0]
    assert any("au moins une boîte" in e for e in by_line[7].errors)
    assert any("e-mail de contact" in e for e in by_line[7].errors)
    assert by_line[8].duplicate_of == 2 and "déjà ligne 2" in by_line[8].errors[0]
    assert "n’est pas dans votre région" in by_line[9].errors[0]  # 2A is a valid FINESS
    assert len(report.valid) == 2 and len(report.invalid) == 7


def test_types_the_programme_does_not_fund_are_reported(db_session):
    report = read(
        db_session, HEADER + "\n" + GOOD.replace("pharmacie;", "msp;"), types=["pharmacie"]
    )
    assert "ne finance pas ce type de structure" in report.lines[0].errors[0]


def test_empty_files_and_too_many_lines_are_refused(db_session):
    with pytest.raises(BulkFileError):
        read(db_session, "")
    with pytest.raises(BulkFileError):
        read(db_session, HEADER + "\n")
    too_many = (
        HEADER
        + "\n"
        + "\n".join(f"29{n:07d};;pharmacie;P{n};29;officine;A;a@example.org" for n in range(10_001))
    )
    with pytest.raises(BulkFileError) as error:
        read(db_session, too_many)
    assert "plus de 10" in str(error.value)


def test_ten_thousand_lines_are_checked_quickly(db_session):
    text = (
        HEADER
        + "\n"
        + "\n".join(
            f"29{n:07d};;pharmacie;Pharmacie {n};29;officine|secretariat;A;a{n}@example.org"
            for n in range(10_000)
        )
    )
    started = time.perf_counter()
    report = read(db_session, text)
    elapsed = time.perf_counter() - started
    assert len(report.valid) == 10_000
    assert elapsed < 10, elapsed
