"""Catalogue: territories, operators, offers and their immutable revisions, the comparison grid."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, UniqueConstraint

from portal.db import created_at_field, json_field, text_field, timestamp_field


class MailboxType(StrEnum):
    PER = "PER"
    ORG = "ORG"
    APP = "APP"
    CAB = "CAB"


class OperatorKind(StrEnum):
    NATIONAL = "national"
    COMMERCIAL = "commercial"
    REGIONAL = "regional"
    ESTABLISHMENT = "establishment"


class OfferStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class BillingPeriod(StrEnum):
    MONTH = "month"
    YEAR = "year"


class Region(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=3)  # INSEE region code
    name: str = Field(max_length=80)
    situation: str = Field(default="buyer", max_length=20)  # own_operator | buyer | none
    launching_regional_operator: bool = False


class Department(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=3)  # INSEE code, 2A/2B, 971…976
    name: str = Field(max_length=80)
    region_code: str = Field(foreign_key="region.code", index=True, max_length=3)


class OperatorBase(SQLModel):
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=160)
    kind: str = Field(max_length=20)  # OperatorKind
    demo: bool = False
    ans_contract: bool = False  # signed the MSSanté operator contract with ANS
    hds_certified: bool = False  # health-data hosting certification
    mail_domains: list[str] = json_field(list)
    website: str | None = Field(default=None, max_length=300)
    support_hours: dict[str, str] = json_field()  # {"fr": …, "en": …}
    description: dict[str, str] = json_field()


class Operator(OperatorBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    adapter_kind: str = Field(default="manual", max_length=40)  # provisioning registry key
    adapter_settings: dict = json_field()  # endpoint, timeouts… (never secrets)
    # Secrets for the adapter and the status callback, encrypted at rest.
    adapter_secret_encrypted: str | None = text_field()
    callback_secret_encrypted: str | None = text_field()
    created_at: dt.datetime = created_at_field()


class OperatorPublic(OperatorBase):
    id: int


class OfferBase(SQLModel):
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=160)
    demo: bool = False
    mailbox_types: list[str] = json_field(list)  # MailboxType values
    professions: list[str] = json_field(list)  # RPPS profession codes; empty = any
    structure_types: list[str] = json_field(list)  # structure type keys; empty = any
    coverage_national: bool = True
    coverage_regions: list[str] = json_field(list)
    coverage_departments: list[str] = json_field(list)
    max_per_professional: int | None = None


class Offer(OfferBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)  # provisions the mailboxes
    publisher_region_code: str | None = Field(
        default=None, foreign_key="region.code", index=True, max_length=3
    )
    status: str = Field(default=OfferStatus.DRAFT, max_length=20, index=True)
    current_revision_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("offerrevision.id", use_alter=True, name="fk_offer_current_revision"),
            nullable=True,
        ),
    )
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime = created_at_field()


class OfferCreate(OfferBase):
    operator_id: int
    publisher_region_code: str | None = None


class OfferUpdate(SQLModel):
    name: str | None = None
    mailbox_types: list[str] | None = None
    professions: list[str] | None = None
    structure_types: list[str] | None = None
    coverage_national: bool | None = None
    coverage_regions: list[str] | None = None
    coverage_departments: list[str] | None = None
    max_per_professional: int | None = None


class OfferPublic(OfferBase):
    id: int
    status: str


class OfferRevisionBase(SQLModel):
    """The terms a subscriber accepts. Never updated: a change is a new revision."""

    price_cents: int = 0  # per mailbox per period, excluding VAT
    currency: str = Field(default="EUR", max_length=3)
    billing_period: str = Field(default=BillingPeriod.MONTH, max_length=10)
    setup_fee_cents: int = 0
    commitment_months: int = 0
    vat_rate_bp: int = 2000  # basis points: 2000 = 20 %
    features: dict = json_field()  # ComparisonAttribute key -> value
    summary: dict[str, str] = json_field()
    description: dict[str, str] = json_field()
    eligibility: dict[str, str] = json_field()


# The terms a revision fixes; a draft copies them and an operator edits them.
REVISION_TERM_FIELDS: tuple[str, ...] = tuple(OfferRevisionBase.model_fields)


class OfferRevision(OfferRevisionBase, table=True):
    __table_args__ = (UniqueConstraint("offer_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    offer_id: int = Field(foreign_key="offer.id", index=True)
    number: int = 1
    created_at: dt.datetime = created_at_field()
    published_at: dt.datetime | None = timestamp_field()


class OfferRevisionPublic(OfferRevisionBase):
    number: int


class ComparisonAttribute(SQLModel, table=True):
    """One row of the comparison grid, and one possible catalogue filter."""

    key: str = Field(primary_key=True, max_length=60)
    group: str = Field(max_length=30, index=True)
    position: int = 0
    type: str = Field(max_length=20)  # boolean | integer | text | list
    source: str = Field(default="features", max_length=20)  # features | price | audience
    unit: str | None = Field(default=None, max_length=20)
    path: str | None = Field(default=None, max_length=60)  # where price/audience rows read
    label: dict[str, str] = json_field()
    help: dict[str, str] = json_field()
    options: list = json_field(list)  # allowed values of a list: [{"value", "label"}]
    null_means: dict[str, str] = json_field()  # what an explicit null says ("no deletion")
    localized: bool = False  # text values are {"fr": …, "en": …}
    filterable: bool = False
