"""The public extraction "Extraction correspondance MSSanté": its columns, and one line checked.

UTF-8 text, ``|`` between 31 columns, one header line. Some published files also end every line
with a ``|``; both forms are read (the header tells which). :func:`parse_line` turns one line into
entry column values or raises :class:`LineRejected` with a sentence saying what is wrong.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any

from portal.directory.indexing import fold
from portal.directory.models import MAILBOX_TYPES, DirectoryEntry, valid_address
from portal.identifiers import (
    InvalidIdentifier,
    finess_check_digit_ok,
    validate_adeli,
    validate_finess,
    validate_rpps,
    validate_siren,
    validate_siret,
)

SEPARATOR = "|"
# (header as published, entry column)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Type de BAL", "mailbox_type"),
    ("Adresse BAL", "address"),
    ("Type Identifiant PP", "pp_id_type"),
    ("Identifiant PP", "pp_id"),
    ("Identification nationale PP", "idnps"),
    ("Type identifiant structure", "structure_id_type"),
    ("Identification Structure", "structure_id"),
    ("Service de rattachement", "service"),
    ("Civilité d'exercice", "civility"),
    ("Nom d'exercice", "last_name"),
    ("Prénom d'exercice", "first_name"),
    ("Catégorie profession", "category_code"),
    ("Libellé de catégorie profession", "category_label"),
    ("Code Profession", "profession_code"),
    ("Libellé Profession", "profession_label"),
    ("Code savoir-faire", "savoir_faire_code"),
    ("Libellé savoir-faire", "savoir_faire_label"),
    ("Dématérialisation", "dematerialisation"),
    ("Raison Sociale structure BAL", "structure_name"),
    ("Enseigne commerciale structure BAL", "structure_trade_name"),
    ("L2COMPLEMENTLOCALISATION", "address_l2"),
    ("L3COMPLEMENTDISTRIBUTION", "address_l3"),
    ("L4NUMEROVOIE", "address_l4_number"),
    ("L4COMPLEMENTNUMEROVOIE", "address_l4_complement"),
    ("NL4TYPEVOIE", "address_l4_street_type"),
    ("L4LIBELLEVOIE", "address_l4_street"),
    ("L5LIEUDITMENTION", "address_l5"),
    ("L6LIGNEACHEMINEMENT", "address_l6"),
    ("Code postal", "postal_code"),
    ("Département", "department"),
    ("Pays", "country"),
)
HEADERS = tuple(header for header, _ in COLUMNS)
FIELDS = tuple(field for _, field in COLUMNS)
COLUMN_COUNT = len(COLUMNS)
HEADER_LINE = SEPARATOR.join(HEADERS)
PP_ID_TYPES = {"8": "RPPS", "0": "ADELI"}
# Type identifiant structure: 1 FINESS, 2 SIREN, 3 SIRET, 4 cabinet id from the RPPS.
STRUCTURE_ID_TYPES = ("1", "2", "3", "4")
_POSTAL_CODE = re.compile(r"\d{5}")
_CABINET_ID = re.compile(r"[0-9A-Z]{1,20}")
_MAX_LENGTHS = {
    name: field.metadata[0].max_length
    for name, field in ((name, DirectoryEntry.model_fields[name]) for name in FIELDS)
    if field.metadata and getattr(field.metadata[0], "max_length", None)
}


class LineRejected(ValueError):
    """A line that cannot become an entry; the message says why, in a sentence."""


class HeaderError(ValueError):
    """The file does not start with the extraction's header: it is not this format."""


@dataclass(frozen=True)
class Layout:
    """How the lines of this file are cut: 31 columns, possibly followed by a trailing ``|``."""

    trailing_separator: bool

    @property
    def fields_per_line(self) -> int:
        return COLUMN_COUNT + (1 if self.trailing_separator else 0)


def _header_key(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(value))


_EXPECTED_HEADER = [_header_key(header) for header in HEADERS]


def read_header(line: str) -> Layout:
    """Check the header line and tell the layout of the data lines."""
    line = line.lstrip("\ufeff").rstrip("\r\n")
    parts = line.split(SEPARATOR)
    trailing = len(parts) == COLUMN_COUNT + 1 and parts[-1].strip() == ""
    if trailing:
        parts = parts[:-1]
    if len(parts) != COLUMN_COUNT:
        separators = {sep: line.count(sep) for sep in (";", ",", "\t") if line.count(sep) >= 20}
        hint = ""
        if separators:
            found = max(separators, key=separators.get)
            hint = f" It looks separated by {found!r}: the extraction uses '|'."
        raise HeaderError(
            f"Line 1 (header) has {len(parts)} column(s) separated by '|', expected "
            f"{COLUMN_COUNT}.{hint}"
        )
    for position, (found, expected) in enumerate(zip(parts, _EXPECTED_HEADER, strict=True), 1):
        if _header_key(found) != expected:
            raise HeaderError(
                f"Line 1 (header), column {position} is {found!r}, expected "
                f"{HEADERS[position - 1]!r}: this is not the 'Extraction correspondance "
                "MSSanté' format."
            )
    return Layout(trailing_separator=trailing)


@dataclass
class ParsedLine:
    values: dict[str, Any]
    warnings: list[str]


def parse_line(line: str, layout: Layout) -> ParsedLine:
    """Validate one data line (without its end of line) and return entry column values."""
    parts = line.split(SEPARATOR)
    if len(parts) != layout.fields_per_line:
        raise LineRejected(
            f"has {len(parts) - (1 if layout.trailing_separator else 0)} columns, expected "
            f"{COLUMN_COUNT} (is the line cut short or does a value contain '|'?)."
        )
    if layout.trailing_separator:
        if parts[-1].strip():
            raise LineRejected(f"has a value after column {COLUMN_COUNT}.")
        parts = parts[:-1]
    if "\x00" in line:
        raise LineRejected("contains a NUL character.")
    values: dict[str, Any] = dict(
        zip(FIELDS, [part.strip() or None for part in parts], strict=True)
    )
    warnings: list[str] = []
    _check(values, warnings)
    return ParsedLine(values, warnings)


# --- The common case, fast --------------------------------------------------------------
# Almost every line of a real file is already clean: no spaces around values, upper-case
# mailbox type, lower-case address, RPPS professionals. :func:`clean_line` checks such a line
# with a few string operations that run in C; a line that passes is accepted with exactly the
# values :func:`parse_line` would give, any other line goes through :func:`parse_line`, which
# gives the precise reason or the normalised values.
_NO_LIMIT = 1 << 30
_LIMITS = tuple(_MAX_LENGTHS.get(name, _NO_LIMIT) for name in FIELDS)
_PERSONAL = frozenset({"PER", "CAB"})


def clean_line(line: str, layout: Layout) -> tuple[list[str], list[str]] | None:
    """The 31 values of a line that is already clean and valid, empty values as ``""``, with its
    warnings; ``None`` when the line needs :func:`parse_line` (to be normalised or rejected)."""
    # Printable means no control character and no white space but the ASCII space; a
    # backslash would need escaping on its way to the database.
    if (
        not line.isprintable()
        or "\\" in line
        or " |" in line
        or "| " in line
        or line[:1] == " "
        or line[-1:] == " "
    ):
        return None
    parts = line.split(SEPARATOR)
    if len(parts) != layout.fields_per_line:
        return None
    if layout.trailing_separator and parts.pop():
        return None  # something after the last column
    if not all(map(operator.le, map(len, parts), _LIMITS)):
        return None
    if parts[0] not in MAILBOX_TYPES:
        return None
    address = parts[1]
    if address.lower() != address or not valid_address(address):
        return None
    pp_id_type, pp_id, idnps = parts[2], parts[3], parts[4]
    if pp_id_type or pp_id or idnps:
        if not (
            pp_id_type == "8"
            and len(pp_id) == 11
            and pp_id.isdigit()
            and pp_id.isascii()
            and idnps == "8" + pp_id
        ):
            return None
    elif parts[0] in _PERSONAL:
        return None
    warnings: list[str] = []
    id_type, structure_id = parts[5], parts[6]
    if id_type or structure_id:
        if id_type not in STRUCTURE_ID_TYPES or structure_id.upper() != structure_id:
            return None
        try:
            _check_structure_id(id_type, structure_id, warnings)
        except LineRejected:
            return None
    elif parts[0] not in _PERSONAL:
        return None
    postal_code = parts[28]
    if postal_code and not _POSTAL_CODE.fullmatch(postal_code):
        return None
    return parts, warnings


def _check(values: dict[str, Any], warnings: list[str]) -> None:
    mailbox_type = (values["mailbox_type"] or "").upper()
    if mailbox_type not in MAILBOX_TYPES:
        raise LineRejected(
            f"has the unknown mailbox type {values['mailbox_type']!r} (expected PER, ORG, APP or "
            "CAB)."
        )
    values["mailbox_type"] = mailbox_type
    address = (values["address"] or "").lower()
    if not valid_address(address):
        raise LineRejected(
            f"has the address {values['address']!r}, which is not an MSSanté address "
            "(name@domain.mssante.fr)."
        )
    values["address"] = address
    _check_professional(values)
    _check_structure(values, warnings)
    if mailbox_type in ("PER", "CAB") and not values["idnps"]:
        raise LineRejected(f"is a {mailbox_type} mailbox without the holder's RPPS or ADELI.")
    if mailbox_type in ("ORG", "APP") and not values["structure_id"]:
        raise LineRejected(f"is an {mailbox_type} mailbox without the structure's identifier.")
    postal_code = values["postal_code"]
    if postal_code and not _POSTAL_CODE.fullmatch(postal_code):
        raise LineRejected(f"has the postal code {postal_code!r}, which is not 5 digits.")
    for field, limit in _MAX_LENGTHS.items():
        value = values[field]
        if value and len(value) > limit:
            position = FIELDS.index(field) + 1
            raise LineRejected(
                f"has a value of {len(value)} characters in column {position} "
                f"({HEADERS[position - 1]}), more than the {limit} allowed."
            )


def _check_professional(values: dict[str, Any]) -> None:
    id_type, pp_id, idnps = values["pp_id_type"], values["pp_id"], values["idnps"]
    if not (id_type or pp_id or idnps):
        return
    if id_type not in PP_ID_TYPES:
        raise LineRejected(
            f"has the professional identifier type {id_type!r} (expected 8 for RPPS or 0 for "
            "ADELI)."
        )
    try:
        number = validate_rpps(pp_id or "") if id_type == "8" else validate_adeli(pp_id or "")
    except InvalidIdentifier as error:
        raise LineRejected(f"has an invalid {PP_ID_TYPES[id_type]} number: {error}") from error
    values["pp_id"] = number
    expected = id_type + number
    if idnps and idnps.upper() != expected:
        raise LineRejected(
            f"has the national id {idnps!r}, which should be {expected!r} "
            f"({id_type} followed by the {PP_ID_TYPES[id_type]} number)."
        )
    values["idnps"] = expected


def _check_structure(values: dict[str, Any], warnings: list[str]) -> None:
    id_type, structure_id = values["structure_id_type"], values["structure_id"]
    if not (id_type or structure_id):
        return
    if id_type not in STRUCTURE_ID_TYPES:
        raise LineRejected(
            f"has the structure identifier type {id_type!r} (expected 1 FINESS, 2 SIREN, "
            "3 SIRET or 4 cabinet)."
        )
    if not structure_id:
        raise LineRejected("gives a structure identifier type but no structure identifier.")
    structure_id = structure_id.upper()
    values["structure_id"] = structure_id
    _check_structure_id(id_type, structure_id, warnings)


def _check_structure_id(id_type: str, structure_id: str, warnings: list[str]) -> None:
    # National ids repeat the type digit in front of the number: accept both spellings.
    bare = structure_id
    lengths = {"1": 9, "2": 9, "3": 14}
    if (
        id_type in lengths
        and len(structure_id) == lengths[id_type] + 1
        and structure_id[0] == id_type
    ):
        bare = structure_id[1:]
    try:
        if id_type == "1":
            validate_finess(bare)
            if finess_check_digit_ok(bare) is False:
                warnings.append(f"FINESS {bare} fails the Luhn check (kept).")
        elif id_type == "2":
            validate_siren(bare)
        elif id_type == "3":
            validate_siret(bare)
        elif not _CABINET_ID.fullmatch(structure_id):
            raise LineRejected(
                f"has the cabinet identifier {structure_id!r}, which is not alphanumeric."
            )
    except InvalidIdentifier as error:
        raise LineRejected(f"has an invalid structure identifier: {error}") from error


def format_line(values: dict[str, Any]) -> str:
    """One entry as an extraction line (no end of line). Separators and line breaks inside
    values would break the format, so they become spaces."""
    return SEPARATOR.join(_clean(values.get(field)) for field in FIELDS)


def _clean(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace(SEPARATOR, " ").replace("\r", " ").replace("\n", " ")
