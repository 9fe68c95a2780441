"""Builders for directory tests: structures, mailboxes and entries."""

from __future__ import annotations

import itertools

from sqlmodel import Session

from portal.accounts.models import Structure
from portal.directory.indexing import add_terms, index_values, typo_terms
from portal.directory.models import DirectoryEntry
from portal.subscriptions.models import Mailbox
from tests.factories import make_operator

_sequence = itertools.count(1)


def make_structure(session: Session, **values) -> Structure:
    n = next(_sequence)
    structure = Structure(
        name=values.pop("name", f"Maison de santé test {n}"),
        finess=values.pop("finess", f"75{n:07d}"),
        postal_code=values.pop("postal_code", "75011"),
        city=values.pop("city", "Paris"),
        department_code=values.pop("department_code", "75"),
        **values,
    )
    session.add(structure)
    session.flush()
    return structure


def make_mailbox(session: Session, **values) -> Mailbox:
    operator = values.pop("operator", None) or make_operator(session)
    mailbox = Mailbox(operator_id=operator.id, state=values.pop("state", "active"), **values)
    session.add(mailbox)
    session.flush()
    return mailbox


def make_entry(session: Session, **values) -> DirectoryEntry:
    """An imported entry, indexed for search like the importer does."""
    values.setdefault("mailbox_type", "PER")
    values.setdefault("source", "import")
    source = values.pop("source")
    index_values(values)
    entry = DirectoryEntry(**values, source=source)
    session.add(entry)
    session.flush()
    add_terms(session, typo_terms(values))
    return entry
