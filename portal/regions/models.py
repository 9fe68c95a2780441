"""Regional subsidy programmes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from portal.db import created_at_field, json_field, timestamp_field


class SubsidyRule(StrEnum):
    FREE = "free"  # the region pays everything
    PERCENT = "percent"  # the region pays a percentage of the price
    AMOUNT = "amount"  # the region pays a fixed amount per mailbox-month


class SubsidyProgramme(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    region_code: str = Field(foreign_key="region.code", index=True, max_length=3)
    offer_id: int = Field(foreign_key="offer.id", index=True)
    name: dict[str, str] = json_field()
    rule: str = Field(max_length=10)  # SubsidyRule
    value: int | None = None  # percent, or cents per mailbox-month for AMOUNT
    duration_months: int | None = None
    structure_types: list[str] = json_field(list)  # eligibility; empty = any
    professions: list[str] = json_field(list)
    departments: list[str] = json_field(list)
    quota_mailboxes: int | None = None
    quota_used: int = 0  # consumed atomically by the quote engine
    budget_cents: int | None = None
    budget_used_cents: int = 0
    needs_approval: bool = False
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    status: str = Field(default="published", max_length=20)  # draft | published | closed
    demo: bool = False
    created_at: dt.datetime = created_at_field()


class BulkUpload(SQLModel, table=True):
    """A CSV file a region uploaded to order for many structures, kept until it is ordered.

    The file is kept as uploaded so that the orders are made from exactly what the validation
    report showed, whichever web process handles the confirmation.
    """

    id: int | None = Field(default=None, primary_key=True)
    region_code: str = Field(foreign_key="region.code", index=True, max_length=3)
    programme_id: int = Field(foreign_key="subsidyprogramme.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    filename: str = Field(max_length=255)
    sha256: str = Field(max_length=64, index=True)
    content: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    valid_lines: int = 0
    invalid_lines: int = 0
    orders_created: int | None = None
    created_at: dt.datetime = created_at_field()
    ordered_at: dt.datetime | None = timestamp_field()
