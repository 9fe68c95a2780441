"""The directory of MSSanté addresses, keyed by address."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from sqlmodel import Field, SQLModel

from portal.db import created_at_field, text_field

MAILBOX_TYPES = ("PER", "ORG", "APP", "CAB")
# Addresses live under operator domains of mssante.fr (the pattern of the directory write API).
ADDRESS_PATTERN = re.compile(r"[^@\s]+@([^@\s]+\.mssante\.fr|interop-mssante\.apicrypt\.org)")


def valid_address(address: str) -> bool:
    return ADDRESS_PATTERN.fullmatch(address) is not None


def operator_domain(address: str) -> str:
    return address.rpartition("@")[2]


class EntrySource(StrEnum):
    IMPORT = "import"  # the national extraction
    PORTAL = "portal"  # provisioned through the portal


class DirectoryEntryBase(SQLModel):
    address: str = Field(max_length=254, unique=True, index=True)
    mailbox_type: str = Field(max_length=3)
    pp_id_type: str | None = Field(default=None, max_length=2)  # 8 = RPPS, 0 = ADELI
    pp_id: str | None = Field(default=None, max_length=11)
    idnps: str | None = Field(default=None, max_length=12, index=True)
    structure_id_type: str | None = Field(default=None, max_length=2)
    structure_id: str | None = Field(default=None, max_length=20, index=True)
    service: str | None = Field(default=None, max_length=200)
    civility: str | None = Field(default=None, max_length=10)
    last_name: str | None = Field(default=None, max_length=120)
    first_name: str | None = Field(default=None, max_length=120)
    category_code: str | None = Field(default=None, max_length=10)
    category_label: str | None = Field(default=None, max_length=120)
    profession_code: str | None = Field(default=None, max_length=10)
    profession_label: str | None = Field(default=None, max_length=120)
    savoir_faire_code: str | None = Field(default=None, max_length=20)
    savoir_faire_label: str | None = Field(default=None, max_length=200)
    dematerialisation: str | None = Field(default=None, max_length=10)
    structure_name: str | None = Field(default=None, max_length=200)
    structure_trade_name: str | None = Field(default=None, max_length=200)
    address_l2: str | None = Field(default=None, max_length=120)
    address_l3: str | None = Field(default=None, max_length=120)
    address_l4_number: str | None = Field(default=None, max_length=20)
    address_l4_complement: str | None = Field(default=None, max_length=20)
    address_l4_street_type: str | None = Field(default=None, max_length=40)
    address_l4_street: str | None = Field(default=None, max_length=160)
    address_l5: str | None = Field(default=None, max_length=120)
    address_l6: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=10, index=True)
    department: str | None = Field(default=None, max_length=60)
    country: str | None = Field(default=None, max_length=60)
    description: str | None = Field(default=None, max_length=300)
    responsible: str | None = Field(default=None, max_length=200)
    liste_rouge: bool = False
    preferred: bool = False


class DirectoryEntry(DirectoryEntryBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(default=EntrySource.IMPORT, max_length=10, index=True)
    mailbox_id: int | None = Field(default=None, foreign_key="mailbox.id", index=True)
    # Who holds the mailbox, for grouping results: "P:<IDNPS>" for a professional,
    # "S:<structure id type><structure id>" for a structure, "A:<address>" otherwise.
    holder_key: str = Field(default="", max_length=260, index=True)
    search_text: str | None = text_field()  # folded names, identifiers and address for search
    # The beginnings of those words, indexed on PostgreSQL for fast prefix search.
    search_prefixes: str | None = text_field()
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime = created_at_field()


class DirectoryTerm(SQLModel, table=True):
    """A word found in holders' names and places, for typo-tolerant search.

    ``reversed_term`` lets a misspelt word whose first letters are wrong still find its
    candidates through an index (its last letters are right then).
    """

    term: str = Field(primary_key=True, max_length=120)
    reversed_term: str = Field(max_length=120, index=True)
