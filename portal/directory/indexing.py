"""What an entry contributes to search: folded text, holder key and typo vocabulary.

Folding (lower case, accents removed, ligatures spelt out) is done here in Python, once, when an
entry is written, so that SQLite's FTS5 and PostgreSQL's 'simple' text search index the same words
and no database extension is needed for accents.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

_WORD = re.compile(r"[a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})
_COMBINING = re.compile(r"[\u0300-\u036f]")
PERSONAL_TYPES = frozenset({"PER", "CAB"})
MAX_TERM_LENGTH = 40  # longer "words" are identifiers or garbage: no typo search on them
# Word beginnings of these lengths are indexed as words of their own on PostgreSQL ("^dup"), so
# that a short prefix is one posting list instead of the union of every word it starts.
PREFIX_LENGTHS = range(2, 7)
PREFIX_MARK = "^"


def fold(value: str | None) -> str:
    """Lower case without accents: "Hélène Lœuvre" → "helene loeuvre"."""
    if not value:
        return ""
    value = value.lower()
    if value.isascii():
        return value
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    return _COMBINING.sub("", decomposed)


def words(value: str | None) -> list[str]:
    return _WORD.findall(fold(value))


def holder_key(values: Mapping[str, Any]) -> str:
    """Entries with the same key belong to the same professional or structure."""
    if values.get("mailbox_type") in PERSONAL_TYPES and values.get("idnps"):
        return f"P:{values['idnps']}"
    if values.get("structure_id"):
        return f"S:{values.get('structure_id_type') or ''}{values['structure_id']}"
    if values.get("idnps"):
        return f"P:{values['idnps']}"
    return f"A:{values['address']}"


_TEXT_FIELDS = (
    "last_name",
    "first_name",
    "structure_name",
    "structure_trade_name",
    "service",
    "description",
    "profession_label",
    "savoir_faire_label",
    "address_l6",
    "department",
    "postal_code",
)
_TERM_FIELDS = ("last_name", "first_name", "structure_name", "structure_trade_name", "address_l6")


@lru_cache(maxsize=1 << 16)
def field_words(value: str) -> tuple[str, ...]:
    """``words(value)``, remembered: names, professions and towns repeat across a million lines,
    and folding accents is the costliest step of an import."""
    return tuple(_WORD.findall(fold(value)))


def search_text(values: Mapping[str, Any]) -> str:
    """The words an entry is found by: names, places, identifiers and the address's parts."""
    found: dict[str, None] = {}
    for field in _TEXT_FIELDS:
        value = values.get(field)
        if value:
            for word in field_words(value):
                found[word] = None
    for field in ("pp_id", "idnps", "structure_id"):
        value = (values.get(field) or "").lower()
        if value:
            found[value] = None
    structure_id = values.get("structure_id") or ""
    if values.get("structure_id_type") and structure_id.startswith(values["structure_id_type"]):
        # National ids are "type digit + number": let people type the bare FINESS/SIRET too.
        found[structure_id[1:].lower()] = None
    for word in words(values.get("address")):
        found[word] = None
    return " ".join(found)


def typo_terms(values: Mapping[str, Any]) -> set[str]:
    """Words worth correcting a typo towards: names and towns, not identifiers."""
    return {
        word
        for field in _TERM_FIELDS
        if values.get(field)
        for word in field_words(values[field])
        if 3 <= len(word) <= MAX_TERM_LENGTH and not word.isdigit()
    }


def indexed_prefix(word: str) -> bool:
    """Whether the beginnings of ``word`` are indexed: not for long numbers (identifiers)."""
    return not (len(word) > 5 and word.isdigit())


def search_prefixes(text: str) -> str:
    """The marked beginnings ("^du ^dup ^dupo ^dupon ^dupont") of the words of ``search_text``.
    Words sharing a beginning repeat it: the tsvector keeps each lexeme once."""
    return " ".join(filter(None, map(_word_prefixes, text.split())))


@lru_cache(maxsize=1 << 16)
def _word_prefixes(word: str) -> str:
    if not indexed_prefix(word):
        return ""
    return " ".join(PREFIX_MARK + word[:length] for length in PREFIX_LENGTHS if length <= len(word))


def index_values(values: dict[str, Any], *, prefixes: bool = True) -> dict[str, Any]:
    """Fill ``holder_key``, ``search_text`` and ``search_prefixes`` of an entry's column
    values, in place. Only PostgreSQL's index reads ``search_prefixes``: a bulk load into
    SQLite can leave it empty (``prefixes=False``)."""
    values["holder_key"] = holder_key(values)
    values["search_text"] = search_text(values)
    values["search_prefixes"] = search_prefixes(values["search_text"]) if prefixes else None
    return values


# --- The same, for the importer's lists of extraction values ------------------------------
# The importer holds a line as the list of its 31 values (""/None when empty) and calls this for
# every line, so the per-value work is remembered: a name, a profession or a town gives the
# same words, beginnings and typo terms every time it appears.


@lru_cache(maxsize=1 << 16)
def _value_index(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The words of a value and its typo terms."""
    found = field_words(value)
    return found, tuple(
        word for word in found if 3 <= len(word) <= MAX_TERM_LENGTH and not word.isdigit()
    )


# Consecutive fields of ``_TEXT_FIELDS`` whose values tend to come together (a name, a
# structure, a profession, a place): each group's words are remembered as one.
_TEXT_GROUPS = (
    ("last_name", "first_name"),
    ("structure_name", "structure_trade_name", "service", "description"),
    ("profession_label", "savoir_faire_label"),
    ("address_l6", "department", "postal_code"),
)
assert tuple(name for group in _TEXT_GROUPS for name in group) == _TEXT_FIELDS


@lru_cache(maxsize=1 << 15)
def _group_index(
    values: tuple[str | None, ...], term_flags: tuple[bool, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found: list[str] = []
    terms: list[str] = []
    for value, is_term in zip(values, term_flags, strict=True):
        if value:
            value_words, value_terms = _value_index(value)
            found += value_words
            if is_term:
                terms += value_terms
    return tuple(found), tuple(terms)


class LineIndexer:
    """``holder_key``, ``search_text`` and ``search_prefixes`` of one extraction line, given as
    its list of values in extraction order; the same as :func:`index_values`, computed with
    less work per line. Collects the typo vocabulary in ``terms``."""

    def __init__(self, *, prefixes: bool = True):
        from portal.directory.extraction import FIELDS

        self.prefixes = prefixes
        self.terms: set[str] = set()
        position = FIELDS.index
        self._groups = []
        for group in _TEXT_GROUPS:
            names = [name for name in group if name in FIELDS]
            assert len(names) > 1  # itemgetter then gives a tuple
            self._groups.append(
                (
                    operator.itemgetter(*(position(name) for name in names)),
                    tuple(name in _TERM_FIELDS for name in names),
                )
            )
        self._type, self._address = position("mailbox_type"), position("address")
        self._pp_id, self._idnps = position("pp_id"), position("idnps")
        self._structure_type = position("structure_id_type")
        self._structure_id = position("structure_id")

    def __call__(self, values: list[Any]) -> tuple[str, str, str | None]:
        found: list[str] = []
        add_terms = self.terms.update
        for get, term_flags in self._groups:
            group_words, group_terms = _group_index(get(values), term_flags)
            found += group_words
            add_terms(group_terms)
        pp_id, idnps = values[self._pp_id], values[self._idnps]
        structure_type, structure_id = values[self._structure_type], values[self._structure_id]
        address = values[self._address]
        identifiers: list[str] = []
        if pp_id:
            identifiers.append(pp_id.lower())
        if idnps:
            identifiers.append(idnps.lower())
        if structure_id:
            identifiers.append(structure_id.lower())
            if structure_type and structure_id.startswith(structure_type):
                # National ids are "type digit + number": the bare FINESS/SIRET is found too.
                identifiers.append(structure_id[1:].lower())
        # Each address is different: its words are not remembered (its domain's are).
        local, _, domain = address.partition("@")
        local_words = _WORD.findall(local if local.isascii() else fold(local))
        found += identifiers
        found += local_words
        found += _value_index(domain)[0]
        text = " ".join(dict.fromkeys(found))
        marked = search_prefixes(text) if self.prefixes else None
        if values[self._type] in PERSONAL_TYPES and idnps:
            key = f"P:{idnps}"
        elif structure_id:
            key = f"S:{structure_type or ''}{structure_id}"
        elif idnps:
            key = f"P:{idnps}"
        else:
            key = f"A:{address}"
        return key, text, marked


def add_terms(session: Session, terms: Iterable[str]) -> None:
    """Add words to the typo vocabulary (those already there are left alone)."""
    rows = [{"term": term, "reversed_term": term[::-1]} for term in sorted(set(terms))]
    if not rows:
        return
    # Both databases understand ON CONFLICT … DO NOTHING (SQLite since 3.24).
    statement = text(
        "INSERT INTO directoryterm (term, reversed_term) VALUES (:term, :reversed_term) "
        "ON CONFLICT (term) DO NOTHING"
    )
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start : start + 5000])
