"""What an entry contributes to search: folded text, holder key and typo vocabulary.

Folding (lower case, accents removed, ligatures spelt out) is done here in Python, once, when an
entry is written, so that SQLite's FTS5 and PostgreSQL's 'simple' text search index the same words
and no database extension is needed for accents.
"""

from __future__ import annotations

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
