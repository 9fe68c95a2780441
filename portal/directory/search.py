"""Directory search: one box for a name, an identifier or an address fragment, plus filters.

Matching is word-prefix and order-free ("dupont marie", "Marie Dupont", "dupo mar"), accent- and
case-insensitive (entries are folded when written, see :mod:`portal.directory.indexing`). A word
that prefixes no known name is also tried with its one-edit neighbours from the typo vocabulary
(``directoryterm``), so "Dupnot" finds "Dupont". The full-text index is FTS5 on SQLite and a GIN
text-search index on PostgreSQL. Liste rouge entries are never returned.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, text
from sqlmodel import Session, select

from portal.directory.indexing import MAX_TERM_LENGTH, words
from portal.directory.models import MAILBOX_TYPES, DirectoryEntry, operator_domain

MAX_QUERY_WORDS = 8
MAX_CANDIDATES = 12
PER_PAGE = 20
# The seven professions with an Ordre (TRE_G15), offered as a filter.
PROFESSIONS = {
    "10": "Médecin",
    "21": "Pharmacien",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "70": "Masseur-kinésithérapeute",
    "80": "Pédicure-podologue",
}


@dataclass
class SearchFilters:
    q: str = ""
    profession: str = ""
    place: str = ""  # a département (75, 2A, 971) or a postcode (75011)
    mailbox_type: str = ""

    def cleaned(self) -> SearchFilters:
        return SearchFilters(
            q=(self.q or "").strip()[:200],
            profession=self.profession if self.profession in PROFESSIONS else "",
            place=(self.place or "").strip().upper()[:5],
            mailbox_type=self.mailbox_type if self.mailbox_type in MAILBOX_TYPES else "",
        )

    @property
    def empty(self) -> bool:
        return not (self.q or self.profession or self.place or self.mailbox_type)


@dataclass
class MailboxResult:
    address: str
    mailbox_type: str
    preferred: bool
    operator_domain: str
    service: str | None
    description: str | None
    structure_name: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": self.mailbox_type,
            "preferred": self.preferred,
            "operator_domain": self.operator_domain,
            "service": self.service,
            "description": self.description,
            "structure_name": self.structure_name,
        }


@dataclass
class HolderResult:
    key: str
    kind: str  # professional | structure
    name: str
    idnps: str | None = None
    structure_id: str | None = None
    profession: str | None = None
    savoir_faire: str | None = None
    structure_name: str | None = None
    place: str | None = None
    mailboxes: list[MailboxResult] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "idnps": self.idnps,
            "structure_id": self.structure_id,
            "profession": self.profession,
            "savoir_faire": self.savoir_faire,
            "structure_name": self.structure_name,
            "place": self.place,
            "mailboxes": [mailbox.as_json() for mailbox in self.mailboxes],
        }


@dataclass
class SearchPage:
    filters: SearchFilters
    results: list[HolderResult]
    total: int
    page: int
    per_page: int
    corrections: dict[str, list[str]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# --- Typo tolerance -----------------------------------------------------------------------


def within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance ≤ 1, or one transposition of neighbours ("dupnot"/"dupont")."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    if la > lb:
        a, b = b, a
    for i in range(len(a)):
        if a[i] != b[i]:
            return a[i:] == b[i + 1 :]
    return True


def _prefix_range(column, prefix: str) -> ColumnElement[bool]:
    # An index range scan on both databases, unlike LIKE (case rules differ between them).
    return and_(column >= prefix, column < prefix + "\uffff")


def known_prefix(session: Session, word: str) -> bool:
    from portal.directory.models import DirectoryTerm

    row = session.exec(
        select(DirectoryTerm.term).where(_prefix_range(DirectoryTerm.term, word)).limit(1)
    ).first()
    return row is not None


def typo_candidates(session: Session, word: str) -> list[str]:
    """Vocabulary words one edit away from ``word``. With one edit, either the first two or the
    last two letters are intact, so two indexed prefix scans find every candidate."""
    from portal.directory.models import DirectoryTerm

    lengths = (len(word) - 1, len(word) + 1)
    rows = session.exec(
        select(DirectoryTerm.term)
        .where(
            or_(
                _prefix_range(DirectoryTerm.term, word[:2]),
                _prefix_range(DirectoryTerm.reversed_term, word[::-1][:2]),
            ),
            func.length(DirectoryTerm.term).between(*lengths),
        )
        .limit(5000)
    ).all()
    found = sorted({term for term in rows if term != word and within_one_edit(word, term)})
    return found[:MAX_CANDIDATES]


# --- Matching -----------------------------------------------------------------------------


def _alternatives(session: Session, tokens: list[str]) -> tuple[list[list[str]], dict]:
    """For each query word, the words to try: itself as a prefix, plus typo corrections."""
    groups: list[list[str]] = []
    corrections: dict[str, list[str]] = {}
    for token in tokens:
        group = [token + "*"]
        if len(token) >= 4 and not token.isdigit() and not known_prefix(session, token):
            candidates = typo_candidates(session, token)
            if candidates:
                corrections[token] = candidates
                group.extend(candidates)
        groups.append(group)
    return groups, corrections


def full_text_condition(session: Session, groups: list[list[str]]) -> ColumnElement[bool]:
    """Entries whose search text holds a word of every group (prefix for "word*")."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        query = " AND ".join(
            "(" + " OR ".join(_fts5_word(word) for word in group) + ")" for group in groups
        )
        return DirectoryEntry.id.in_(
            text(
                "SELECT rowid FROM directoryentry_fts WHERE directoryentry_fts MATCH :fts"
            ).bindparams(fts=query)
        )
    query = " & ".join(
        "(" + " | ".join(_tsquery_word(word) for word in group) + ")" for group in groups
    )
    # The same expression as the GIN index of migration 0003 (search_text is already folded).
    return text(
        "(coalesce(directoryentry.search_text, '')::tsvector) @@ to_tsquery('simple', :tsquery)"
    ).bindparams(tsquery=query)


def _fts5_word(word: str) -> str:
    # Words are [a-z0-9]+ after folding, so quoting is all the escaping FTS5 needs.
    return f'"{word[:-1]}"*' if word.endswith("*") else f'"{word}"'


def _tsquery_word(word: str) -> str:
    return f"{word[:-1]}:*" if word.endswith("*") else word


def query_words(q: str) -> list[str]:
    return [word[:MAX_TERM_LENGTH] for word in words(q)][:MAX_QUERY_WORDS]


def public_conditions(
    session: Session, filters: SearchFilters
) -> tuple[list[ColumnElement[bool]], dict]:
    conditions: list[ColumnElement[bool]] = [DirectoryEntry.liste_rouge.is_(False)]
    corrections: dict[str, list[str]] = {}
    tokens = query_words(filters.q)
    if tokens:
        groups, corrections = _alternatives(session, tokens)
        conditions.append(full_text_condition(session, groups))
        if "@" in filters.q:
            # An address fragment: the words matched, now the characters between them must too.
            fragment = filters.q.strip().lower()
            conditions.append(
                func.lower(DirectoryEntry.address).contains(fragment, autoescape=True)
            )
    if filters.profession:
        conditions.append(DirectoryEntry.profession_code == filters.profession)
    if filters.mailbox_type:
        conditions.append(DirectoryEntry.mailbox_type == filters.mailbox_type)
    if filters.place:
        place = filters.place
        if len(place) == 5:
            conditions.append(DirectoryEntry.postal_code == place)
        else:
            prefix = "20" if place in ("2A", "2B") else place
            conditions.append(_prefix_range(DirectoryEntry.postal_code, prefix))
    return conditions, corrections


def search_directory(
    session: Session, filters: SearchFilters, *, page: int = 1, per_page: int = PER_PAGE
) -> SearchPage:
    """Holders (professionals, structures) matching the filters, with their public mailboxes."""
    filters = filters.cleaned()
    page = max(1, page)
    if filters.empty:
        return SearchPage(filters, [], 0, page, per_page)
    conditions, corrections = public_conditions(session, filters)
    total = session.exec(
        select(func.count(func.distinct(DirectoryEntry.holder_key))).where(*conditions)
    ).one()
    sort_name = func.min(func.coalesce(DirectoryEntry.last_name, DirectoryEntry.structure_name, ""))
    keys = session.exec(
        select(DirectoryEntry.holder_key)
        .where(*conditions)
        .group_by(DirectoryEntry.holder_key)
        .order_by(sort_name, DirectoryEntry.holder_key)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return SearchPage(
        filters, holders_for_keys(session, list(keys)), total, page, per_page, corrections
    )


def holders_for_keys(session: Session, keys: list[str]) -> list[HolderResult]:
    """Each holder with all its public mailboxes, in the order of ``keys``."""
    if not keys:
        return []
    entries = session.exec(
        select(DirectoryEntry)
        .where(DirectoryEntry.holder_key.in_(keys), DirectoryEntry.liste_rouge.is_(False))
        .order_by(DirectoryEntry.preferred.desc(), DirectoryEntry.address)
    ).all()
    by_key: dict[str, list[DirectoryEntry]] = defaultdict(list)
    for entry in entries:
        by_key[entry.holder_key].append(entry)
    return [_holder(key, by_key[key]) for key in keys if by_key.get(key)]


def _holder(key: str, entries: list[DirectoryEntry]) -> HolderResult:
    first = entries[0]
    professional = key.startswith("P:")
    if professional:
        name = " ".join(part for part in (first.first_name, first.last_name) if part)
    else:
        name = first.structure_name or first.structure_trade_name or first.address
    return HolderResult(
        key=key,
        kind="professional" if professional else "structure",
        name=name or first.address,
        idnps=first.idnps if professional else None,
        structure_id=first.structure_id if not professional else None,
        profession=first.profession_label or PROFESSIONS.get(first.profession_code or ""),
        savoir_faire=first.savoir_faire_label,
        structure_name=first.structure_name if professional else None,
        place=first.address_l6 or first.postal_code,
        mailboxes=[
            MailboxResult(
                address=entry.address,
                mailbox_type=entry.mailbox_type,
                preferred=entry.preferred,
                operator_domain=operator_domain(entry.address),
                service=entry.service,
                description=entry.description,
                structure_name=entry.structure_name,
            )
            for entry in entries
        ],
    )
