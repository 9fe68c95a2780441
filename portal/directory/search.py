"""Directory search: one box for a name, an identifier or an address fragment, plus filters.

Matching is word-prefix and order-free ("dupont marie", "Marie Dupont", "dupo mar"), accent- and
case-insensitive (entries are folded when written, see :mod:`portal.directory.indexing`). Every
word of four letters or more is also tried with its one-edit neighbours from the typo vocabulary
(``directoryterm``), so "Dupnot" finds "Dupont" and "Dupond" finds both Dupond and Dupont, exact
spellings first. The full-text index is FTS5 on SQLite and a GIN text-search index on PostgreSQL.
At most MAX_RESULTS matches are ranked. Liste rouge entries are never returned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    column,
    func,
    literal,
    or_,
    table,
    text,
)
from sqlmodel import Session, select

from portal.directory.indexing import (
    MAX_TERM_LENGTH,
    PREFIX_LENGTHS,
    PREFIX_MARK,
    fold,
    indexed_prefix,
    words,
)
from portal.directory.models import MAILBOX_TYPES, DirectoryEntry, DirectoryTerm, operator_domain

MAX_QUERY_WORDS = 8
MAX_CANDIDATES = 12
MAX_RESULTS = 1000  # ranked matches; beyond, the user is asked to refine the search
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
    # More than ``cap`` entries matched: only the best ``cap`` are ranked and paged.
    capped: bool = False
    cap: int = MAX_RESULTS

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


def typo_candidates(session: Session, tokens: list[str]) -> dict[str, list[str]]:
    """For each word, the vocabulary words one edit away, in one query. With one edit, either
    the first two or the last two letters are intact, so indexed prefix scans find every
    candidate."""
    if not tokens:
        return {}
    rows = session.exec(
        select(DirectoryTerm.term)
        .where(
            or_(
                *(
                    and_(
                        or_(
                            _prefix_range(DirectoryTerm.term, word[:2]),
                            _prefix_range(DirectoryTerm.reversed_term, word[::-1][:2]),
                        ),
                        func.length(DirectoryTerm.term).between(len(word) - 1, len(word) + 1),
                    )
                    for word in tokens
                )
            )
        )
        .limit(5000 * len(tokens))
    ).all()
    found: dict[str, list[str]] = {}
    for word in tokens:
        near = sorted({term for term in rows if term != word and within_one_edit(word, term)})
        if near:
            found[word] = near[:MAX_CANDIDATES]
    return found


# --- Matching -----------------------------------------------------------------------------
#
# A query is answered in tiers, each a full-text match limited to MAX_RESULTS + 1 rows, so the
# cost is bounded by the cap and not by how common a name is: every word exactly, then every
# word as a prefix, then words replaced by their one-typo neighbours from the vocabulary.
# Holders are ranked by the first tier that found them, then by name. Once a tier reaches the
# cap the search stops and says so (précisez votre recherche). A lone identifier (RPPS, IDNPS,
# ADELI, FINESS, SIREN, SIRET) is first looked up exactly through the B-tree indexes. Filters
# are part of the full-text match (tags of migration 0008), so the index does the narrowing.

EXACT, PREFIX, TYPO = 0, 1, 2

# The FTS5 ``tags`` column of migration 0008 (profession, mailbox type, département), for
# filling the table from ``directoryentry`` in bulk; the triggers compute the same.
SQLITE_FTS_TAGS = (
    "'p' || coalesce(directoryentry.profession_code, '') || ' t' || "
    "lower(directoryentry.mailbox_type) || "
    "' d' || substr(coalesce(directoryentry.postal_code, ''), 1, 2) || "
    "CASE WHEN directoryentry.postal_code GLOB '9[78]*' "
    "THEN ' d' || substr(directoryentry.postal_code, 1, 3) ELSE '' END"
)
# The expression of the PostgreSQL GIN index of migration 0008: the folded words, their marked
# beginnings (migration 0006) and the tags ``=p<profession>`` and ``=t<mailbox type>``.
_POSTGRESQL_VECTOR = (
    "((coalesce(directoryentry.search_text, '') || ' ' || "
    "coalesce(directoryentry.search_prefixes, '') || ' =p' || "
    "regexp_replace(lower(coalesce(directoryentry.profession_code, '')), '[^a-z0-9]', '', 'g')"
    " || ' =t' || regexp_replace(lower(directoryentry.mailbox_type), '[^a-z0-9]', '', 'g')"
    ")::tsvector)"
)
# The longest word beginnings indexed as entries of their own: search_prefixes on PostgreSQL
# (migration 0006), prefix='2 3 4 5 6' of the FTS5 table (migration 0008).
_LONGEST_INDEXED_PREFIX = PREFIX_LENGTHS[-1]


def query_words(q: str) -> list[str]:
    return [word[:MAX_TERM_LENGTH] for word in words(q)][:MAX_QUERY_WORDS]


Tag = str | tuple[str, ...]  # an index tag, or alternatives ("=torg", "=tapp")


@dataclass(frozen=True)
class Narrowing:
    """What the filters add to a full-text match, so that the index narrows by them: words
    every entry of the place holds, and tags (profession, mailbox type, département)."""

    groups: tuple[tuple[str, ...], ...] = ()
    tags: tuple[str, ...] = ()


def narrowing(session: Session, filters: SearchFilters) -> Narrowing:
    sqlite = session.get_bind().dialect.name == "sqlite"
    place, department = filters.place, _department(filters.place)
    groups: list[tuple[str, ...]] = []
    tags: list[str] = []
    if place and len(place) == 5:
        groups.append((place,))  # the postcode is one of the entry's words
    elif department and sqlite:
        tags.append("d" + department)
    elif department:
        groups.append((department + "*",))  # the postcode's indexed beginning (^75)
    if filters.profession:
        tags.append(("p" if sqlite else "=p") + _code(filters.profession))
    if filters.mailbox_type:
        tags.append(mailbox_type_tag(session, filters.mailbox_type))
    return Narrowing(tuple(groups), tuple(tags))


def mailbox_type_tag(session: Session, mailbox_type: str) -> str:
    """The index tag of entries of this mailbox type (migration 0008)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    return ("t" if sqlite else "=t") + _code(mailbox_type)


def _department(place: str) -> str | None:
    """The first characters every postcode of this département starts with, if it is one."""
    if place in ("2A", "2B"):
        return "20"
    if place.isdigit() and (len(place) == 2 or (len(place) == 3 and place[:2] in ("97", "98"))):
        return place
    return None


def _code(value: str) -> str:
    return "".join(
        character for character in value.lower() if character.isascii() and character.isalnum()
    )


def _indexed_stem(term: str, alone: bool, beginnings: list[str]) -> str | None:
    """For a prefix term ("pharmacie*") alone in its group, beside other groups, and longer
    than the longest beginning the index holds as one entry: that beginning ("pharma"), the
    whole prefix being checked on the rows (``beginnings``). Matching the longer prefix in the
    index means gathering every word it starts ("pharmacie", "pharmacien": 100,000 entries)
    into one list before intersecting anything: 7 ms on SQLite, 20 ms on PostgreSQL, where
    the beginning is intersected with the other words by the index and few rows are read. A
    prefix alone in the query stays whole: nothing would bound the rows its beginning reads
    ("renaudier" would read every "rena…")."""
    stem = term[:-1]
    if alone and len(stem) > _LONGEST_INDEXED_PREFIX and indexed_prefix(stem):
        beginnings.append(stem)
        return stem[:_LONGEST_INDEXED_PREFIX]
    return None


def _fts5_query(
    groups: list[list[str]], tags: Iterable[Tag] = (), beginnings: list[str] | None = None
) -> str:
    """An FTS5 query: the words in the ``search_text`` column, the filters in ``tags``."""
    beginnings = [] if beginnings is None else beginnings

    # Words are [a-z0-9]+ after folding, so quoting is all the escaping FTS5 needs.
    def word(term: str, alone: bool) -> str:
        if not term.endswith("*"):
            return f'"{term}"'
        stem = _indexed_stem(term, alone, beginnings) or term[:-1]
        return f'"{stem}"*'

    parts = []
    if groups:
        words_ = " AND ".join(
            "(" + " OR ".join(word(term, len(group) == 1 < len(groups)) for term in group) + ")"
            for group in groups
        )
        parts.append(f"search_text : ({words_})")
    tags = list(tags)
    if tags:
        parts.append("tags : (" + " AND ".join(_tag_clause(tag, '"', " OR ") for tag in tags) + ")")
    return " AND ".join(parts)


def _tag_clause(tag: Tag, quote: str, either: str) -> str:
    if isinstance(tag, str):
        return f"{quote}{tag}{quote}"
    return "(" + either.join(f"{quote}{alternative}{quote}" for alternative in tag) + ")"


def _tsquery(
    groups: list[list[str]], tags: Iterable[Tag] = (), beginnings: list[str] | None = None
) -> str:
    """A tsquery literal (read as is, no parser). A prefix of an indexed length is the marked
    word-beginning lexeme of migration 0006 ("^dupo"); a longer one its longest indexed
    beginning (see :func:`_indexed_stem`), or a GIN partial match among alternatives."""
    beginnings = [] if beginnings is None else beginnings

    def word(term: str, alone: bool) -> str:
        if not term.endswith("*"):
            return f"'{term}'"
        stem = _indexed_stem(term, alone, beginnings) or term[:-1]
        if len(stem) in PREFIX_LENGTHS and indexed_prefix(stem):
            return f"'{PREFIX_MARK}{stem}'"
        return f"'{stem}':*"

    clauses = [
        "(" + " | ".join(word(term, len(group) == 1 < len(groups)) for term in group) + ")"
        for group in groups
    ]
    clauses += [_tag_clause(tag, "'", " | ") for tag in tags]
    return " & ".join(clauses)


def _beginnings_condition(beginnings: list[str]) -> list[ColumnElement[bool]]:
    # search_text is folded [a-z0-9]+ words separated by spaces: no LIKE wildcard in them.
    return [(literal(" ") + DirectoryEntry.search_text).like(f"% {stem}%") for stem in beginnings]


def _match(session: Session, groups: list[list[str]], narrow: Narrowing = Narrowing()):
    """A select of candidate rows whose search words satisfy ``groups`` (AND of ORs) and the
    narrowing of the filters."""
    groups = [*groups, *(list(group) for group in narrow.groups)]
    if session.get_bind().dialect.name == "sqlite":
        # Driven by the FTS5 table: rows stream out of it and the LIMIT stops the scan early.
        beginnings: list[str] = []
        fts = _fts5_query(groups, narrow.tags, beginnings)
        return (
            select(*_CANDIDATE_COLUMNS)
            .select_from(DirectoryEntry)
            .join(_FTS5, _FTS5.c.rowid == DirectoryEntry.id)
            .where(text("directoryentry_fts MATCH :fts").bindparams(fts=fts))
            .where(*_beginnings_condition(beginnings))
        )
    return select(*_CANDIDATE_COLUMNS).where(full_text_condition(session, groups, narrow.tags))


def full_text_condition(
    session: Session, groups: list[list[str]], tags: Iterable[Tag] = ()
) -> ColumnElement[bool]:
    """Entries whose search words satisfy ``groups`` (AND of ORs; "word*" is a prefix) and
    carry ``tags`` (each a tag, or a tuple of alternatives), as a condition for any query on
    ``directoryentry``."""
    beginnings: list[str] = []
    if session.get_bind().dialect.name == "sqlite":
        fts = _fts5_query(groups, tags, beginnings)
        condition = DirectoryEntry.id.in_(
            text(
                "SELECT rowid FROM directoryentry_fts WHERE directoryentry_fts MATCH :fts"
            ).bindparams(bindparam("fts", fts, unique=True))
        )
    else:
        tsquery = _tsquery(groups, tags, beginnings)
        condition = text(f"{_POSTGRESQL_VECTOR} @@ CAST(:tsq AS tsquery)").bindparams(
            bindparam("tsq", tsquery, unique=True)
        )
    return and_(condition, *_beginnings_condition(beginnings))


_FTS5 = table("directoryentry_fts", column("rowid"))
# What ranking needs of a candidate row: its holder and the names it is sorted by.
_CANDIDATE_COLUMNS = (
    DirectoryEntry.holder_key,
    DirectoryEntry.last_name,
    DirectoryEntry.first_name,
    DirectoryEntry.structure_name,
)


def _prefix(token: str) -> str:
    # A lone letter ("m.dupont") is matched as a word: as a prefix it would match everything.
    return token + "*" if len(token) > 1 else token


def identifier_condition(token: str) -> ColumnElement[bool] | None:
    """Exact lookup of a lone RPPS/ADELI/IDNPS or FINESS/SIREN/SIRET (bare or with its type
    digit), through the B-tree indexes on ``idnps`` and ``structure_id``."""
    value = token.upper()
    if not (8 <= len(value) <= 15 and value[2:].isdigit() and value[:2].isalnum()):
        return None
    structure_ids = {value, "1" + value, "2" + value, "3" + value}
    if value[0] in "123" and len(value) in (10, 15):  # an IDNST: type digit + FINESS/SIREN/SIRET
        structure_ids.add(value[1:])
    return or_(
        DirectoryEntry.idnps.in_(sorted({value, "8" + value, "0" + value})),
        DirectoryEntry.structure_id.in_(sorted(structure_ids)),
    )


def filter_conditions(filters: SearchFilters) -> list[ColumnElement[bool]]:
    """Liste rouge, profession, mailbox type, place and address fragment, checked exactly."""
    conditions: list[ColumnElement[bool]] = [DirectoryEntry.liste_rouge.is_(False)]
    if "@" in filters.q:
        # An address fragment: the words matched, now the characters between them must too.
        fragment = filters.q.strip().lower()
        conditions.append(func.lower(DirectoryEntry.address).contains(fragment, autoescape=True))
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
    return conditions


_sort_name = lru_cache(maxsize=1 << 14)(fold)  # a thousand rows share a few hundred names


@dataclass
class _Ranking:
    """Holders found so far, each with the best tier that found it and its sort name."""

    found: dict[str, tuple] = field(default_factory=dict)
    capped: bool = False

    def add(self, session: Session, statement, tier: int) -> int:
        rows = session.exec(statement.limit(MAX_RESULTS + 1)).all()
        new = 0
        for key, last_name, first_name, structure_name in rows:
            if key not in self.found:
                new += 1
                self.found[key] = (
                    tier,
                    _sort_name(last_name or structure_name),
                    _sort_name(first_name),
                    key,
                )
        if len(rows) > MAX_RESULTS:
            self.capped = True
        return new

    def keys(self) -> list[str]:
        return [ranked[-1] for ranked in sorted(self.found.values())][:MAX_RESULTS]


@contextmanager
def _index_scans_only(session: Session) -> Iterator[None]:
    """On PostgreSQL, keep the planner on the indexes for the candidate queries.

    With a LIMIT and a common word ("martin": 8 % of entries) it prefers reading the table in
    order, hoping to meet 1,001 matches soon, but each row read then parses its tsvector: 650 ms
    at a million entries, against 30 ms through the GIN index. Scoped to these queries."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        yield
    finally:
        session.execute(text("SET LOCAL enable_seqscan = on"))


def _rank(session: Session, filters: SearchFilters) -> tuple[_Ranking, dict[str, list[str]]]:
    with _index_scans_only(session):
        return _rank_candidates(session, filters)


def _rank_candidates(
    session: Session, filters: SearchFilters
) -> tuple[_Ranking, dict[str, list[str]]]:
    ranking = _Ranking()
    corrections: dict[str, list[str]] = {}
    conditions = filter_conditions(filters)
    tokens = query_words(filters.q)
    if not tokens:
        ranking.add(session, select(*_CANDIDATE_COLUMNS).where(*conditions), EXACT)
        return ranking, corrections
    narrow = narrowing(session, filters)
    identifier = identifier_condition(tokens[0]) if len(tokens) == 1 else None
    if identifier is not None and ranking.add(
        session, select(*_CANDIDATE_COLUMNS).where(identifier, *conditions), EXACT
    ):
        return ranking, corrections
    tiers = [
        (EXACT, [[token] for token in tokens]),
        (PREFIX, [[_prefix(token)] for token in tokens]),
    ]
    for tier, groups in tiers:
        ranking.add(session, _match(session, groups, narrow).where(*conditions), tier)
        if ranking.capped:
            return ranking, corrections
    # One typo per word: first each word in turn replaced by its neighbours, the others as
    # typed. Everything the words match as typed is already ranked (that tier stayed under
    # the cap), so these queries only look for what the neighbours add, and the index
    # intersects those rare words first. Then, if several words have neighbours, a typo in
    # each of them at once (with three or more, the combinations of two are not tried).
    neighbours = typo_candidates(
        session, [token for token in tokens if len(token) >= 4 and not token.isdigit()]
    )
    for position, token in enumerate(tokens):
        if token not in neighbours:
            continue
        groups = [
            neighbours[token] if index == position else [_prefix(other)]
            for index, other in enumerate(tokens)
        ]
        if ranking.add(session, _match(session, groups, narrow).where(*conditions), TYPO):
            corrections[token] = neighbours[token]
        if ranking.capped:
            return ranking, corrections
    if len(neighbours) > 1:
        groups = [neighbours.get(token) or [_prefix(token)] for token in tokens]
        if ranking.add(session, _match(session, groups, narrow).where(*conditions), TYPO):
            corrections = {token: neighbours[token] for token in tokens if token in neighbours}
    return ranking, corrections


def search_directory(
    session: Session, filters: SearchFilters, *, page: int = 1, per_page: int = PER_PAGE
) -> SearchPage:
    """Holders (professionals, structures) matching the filters, with their public mailboxes,
    best matches first: exact words, then prefixes, then one typo; by name within each."""
    filters = filters.cleaned()
    page = max(1, page)
    if filters.empty:
        return SearchPage(filters, [], 0, page, per_page)
    ranking, corrections = _rank(session, filters)
    keys = ranking.keys()
    shown = keys[(page - 1) * per_page : page * per_page]
    return SearchPage(
        filters,
        holders_for_keys(session, shown),
        len(keys),
        page,
        per_page,
        corrections,
        capped=ranking.capped,
        cap=MAX_RESULTS,
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
