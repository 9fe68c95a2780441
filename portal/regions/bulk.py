"""Bulk orders: a region uploads one structure per line and gets a report before anything.

Reading the file is forgiving about what spreadsheets produce (UTF-8 with or without a
byte-order mark, Windows-1252, semicolons, commas or tabs) and strict about the content:
every line is checked on its own and reported with the reasons it cannot be ordered, and
problems that concern the whole file (missing columns, too many lines, quota) stop it all.
Ordering happens later, in one transaction, and only for the lines found valid.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import StructureType
from portal.catalogue.models import Department
from portal.identifiers import InvalidIdentifier, compact, validate_finess, validate_siret

MAX_LINES = 10_000
MAX_BYTES = 5 * 1024 * 1024
SEPARATORS = (";", ",", "\t", "|")

# Column name (as written in the template file) → field. Headers are compared without
# accents, case or spaces, so "Département", "departement" and "DEPARTEMENT" all match.
COLUMNS = {
    "finess": "finess",
    "siret": "siret",
    "type": "structure_type",
    "nom": "name",
    "departement": "department",
    "boites": "mailboxes",
    "responsable": "responsible",
    "email": "email",
}
REQUIRED = ("type", "nom", "departement", "boites", "responsable", "email")
TEMPLATE_HEADER = [
    "finess",
    "siret",
    "type",
    "nom",
    "departement",
    "boites",
    "responsable",
    "email",
]
MAILBOX_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.\-]{0,38}[a-z0-9])?")


class BulkFileError(Exception):
    """The file as a whole cannot be read; the message tells the user what to fix."""


@dataclass
class BulkLine:
    number: int  # line number in the file, the header being line 1
    values: dict[str, str]
    finess: str | None = None
    siret: str | None = None
    structure_type: str | None = None
    mailboxes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duplicate_of: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def identifier(self) -> str:
        return f"FINESS {self.finess}" if self.finess else f"SIRET {self.siret}"


@dataclass
class BulkReport:
    sha256: str
    encoding: str
    separator: str
    lines: list[BulkLine]

    @property
    def valid(self) -> list[BulkLine]:
        return [line for line in self.lines if line.ok]

    @property
    def invalid(self) -> list[BulkLine]:
        return [line for line in self.lines if not line.ok]

    @property
    def mailbox_count(self) -> int:
        return sum(len(line.mailboxes) for line in self.valid)


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s_\-]", "", plain).lower()


def decode(content: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding (UTF-8, else Windows-1252)."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="strict"), "UTF-8"
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as error:
        raise BulkFileError(
            _(
                "Le fichier n’est ni en UTF-8 ni en Windows-1252 : enregistrez-le au format CSV UTF-8."
            )
        ) from error


def detect_separator(header_line: str) -> str:
    """The separator that splits the header into the most known column names."""
    best, best_hits = ";", -1
    for separator in SEPARATORS:
        names = {_key(name) for name in next(csv.reader([header_line], delimiter=separator))}
        hits = len(names & set(COLUMNS))
        if hits > best_hits:
            best, best_hits = separator, hits
    return best


def structure_type_names(session: Session | None = None) -> dict[str, str]:
    """Every way a structure type may be written (its code or its label) → its code."""
    names = {_key(kind.value): kind.value for kind in StructureType}
    if session is not None:
        from portal.regions.programmes import options_of

        for option in options_of(session, "structure_types"):
            for label in (option.get("label") or {}).values():
                names[_key(label)] = option["value"]
    return names


def read_bulk_file(
    content: bytes,
    *,
    session: Session,
    region_code: str,
    eligible_types: list[str] | None = None,
) -> BulkReport:
    """Check every line of an uploaded file; raise :class:`BulkFileError` if it is unusable."""
    if not content.strip():
        raise BulkFileError(_("Le fichier est vide."))
    if len(content) > MAX_BYTES:
        raise BulkFileError(_("Le fichier dépasse 5 Mo : découpez-le en plusieurs fichiers."))
    text, encoding = decode(content)
    first_line = text.splitlines()[0] if text.splitlines() else ""
    separator = detect_separator(first_line)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(rows)
    except (StopIteration, csv.Error) as error:
        raise BulkFileError(_("La première ligne du fichier doit nommer les colonnes.")) from error
    positions = {}
    for index, name in enumerate(header):
        key = _key(name)
        if key in COLUMNS and key not in positions:
            positions[key] = index
    missing = [name for name in REQUIRED if name not in positions]
    if "finess" not in positions and "siret" not in positions:
        missing.insert(0, "finess / siret")
    if missing:
        raise BulkFileError(
            _(
                "Colonnes manquantes : %(columns)s. La première ligne doit contenir : %(expected)s "
                "(séparateur détecté : « %(separator)s »).",
                columns=", ".join(missing),
                expected=" ; ".join(TEMPLATE_HEADER),
                separator="tab" if separator == "\t" else separator,
            )
        )
    departments = set(
        session.exec(select(Department.code).where(Department.region_code == region_code)).all()
    )
    types = structure_type_names(session)
    seen: dict[str, int] = {}
    lines: list[BulkLine] = []
    try:
        for number, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue  # blank lines are what spreadsheets leave at the end
            if len(lines) >= MAX_LINES:
                raise BulkFileError(
                    _(
                        "Le fichier compte plus de %(max)d lignes : découpez-le en plusieurs fichiers.",
                        max=MAX_LINES,
                    )
                )
            values = {
                COLUMNS[key]: (row[index].strip() if index < len(row) else "")
                for key, index in positions.items()
            }
            line = BulkLine(number=number, values=values)
            _check_line(line, departments, types, eligible_types)
            if line.ok:
                key = line.identifier
                if key in seen:
                    line.duplicate_of = seen[key]
                    line.errors.append(
                        _(
                            "Cette structure figure déjà ligne %(line)d : regroupez ses boîtes "
                            "sur une seule ligne.",
                            line=seen[key],
                        )
                    )
                else:
                    seen[key] = number
            lines.append(line)
    except csv.Error as error:
        raise BulkFileError(
            _("Le fichier n’est pas un CSV lisible (ligne %(line)d).", line=rows.line_num)
        ) from error
    if not lines:
        raise BulkFileError(_("Le fichier ne contient aucune ligne après celle des colonnes."))
    return BulkReport(
        sha256=hashlib.sha256(content).hexdigest(),
        encoding=encoding,
        separator=separator,
        lines=lines,
    )


def _check_line(
    line: BulkLine,
    departments: set[str],
    types: dict[str, str],
    eligible_types: list[str] | None,
) -> None:
    values = line.values
    finess, siret = values.get("finess", ""), values.get("siret", "")
    if not finess and not siret:
        line.errors.append(_("Indiquez le numéro FINESS ou le SIRET de la structure."))
    if finess:
        try:
            line.finess = validate_finess(finess)
        except InvalidIdentifier:
            line.errors.append(
                _(
                    "FINESS « %(value)s » invalide : 9 caractères, le département (2A/2B pour la "
                    "Corse) puis 7 chiffres.",
                    value=finess,
                )
            )
    if siret:
        try:
            line.siret = validate_siret(compact(siret))
        except InvalidIdentifier:
            line.errors.append(
                _(
                    "SIRET « %(value)s » invalide : 14 chiffres avec une clé de contrôle correcte.",
                    value=siret,
                )
            )
    kind = types.get(_key(values.get("structure_type", "")))
    if kind is None:
        line.errors.append(
            _(
                "Type de structure « %(value)s » inconnu. Types possibles : %(types)s.",
                value=values.get("structure_type", ""),
                types=", ".join(k.value for k in StructureType),
            )
        )
    elif eligible_types and kind not in eligible_types:
        line.errors.append(
            _("Le programme choisi ne finance pas ce type de structure (%(type)s).", type=kind)
        )
    line.structure_type = kind
    if not values.get("name"):
        line.errors.append(_("Indiquez le nom de la structure."))
    elif len(values["name"]) > 200:
        line.errors.append(_("Le nom de la structure dépasse 200 caractères."))
    department = compact(values.get("department", ""))
    if department.isdigit() and len(department) == 1:
        department = "0" + department
    values["department"] = department
    if department not in departments:
        line.errors.append(
            _(
                "Le département « %(value)s » n’est pas dans votre région.",
                value=values.get("department", ""),
            )
        )
    names = [
        name.strip().lower()
        for name in re.split(r"[|+/]", values.get("mailboxes", ""))
        if name.strip()
    ]
    if not names:
        line.errors.append(
            _("Indiquez au moins une boîte, par exemple « secretariat » ou « officine|accueil ».")
        )
    bad = [name for name in names if not MAILBOX_NAME.fullmatch(name)]
    if bad:
        line.errors.append(
            _(
                "Nom de boîte invalide : %(names)s (lettres minuscules sans accent, chiffres, "
                "points et tirets).",
                names=", ".join(bad),
            )
        )
    if len(set(names)) != len(names):
        line.errors.append(_("Une même boîte est demandée deux fois sur cette ligne."))
    line.mailboxes = names
    if not values.get("responsible"):
        line.errors.append(_("Indiquez le nom de la personne responsable des boîtes."))
    try:
        values["email"] = validate_email(
            values.get("email", ""), check_deliverability=False
        ).normalized
    except EmailNotValidError:
        line.errors.append(
            _(
                "Adresse e-mail de contact « %(value)s » invalide.",
                value=values.get("email", ""),
            )
        )
