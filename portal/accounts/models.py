"""People and organisations, and who may do what: professionals, structures, accounts, roles."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import Field, SQLModel, UniqueConstraint

from portal.db import created_at_field, json_field, text_field, timestamp_field


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    REGION_ADMIN = "region_admin"
    OPERATOR_ADMIN = "operator_admin"
    STRUCTURE_MANAGER = "structure_manager"


class StructureType(StrEnum):
    MSP = "msp"
    CENTRE_SANTE = "centre_sante"
    PHARMACIE = "pharmacie"
    LABORATOIRE = "laboratoire"
    EHPAD_MEDICO_SOCIAL = "ehpad_medico_social"
    CABINET_GROUPE = "cabinet_groupe"
    ETABLISSEMENT_SANTE = "etablissement_sante"
    AUTRE = "autre"


class ProfessionalBase(SQLModel):
    idnps: str = Field(max_length=12, unique=True, index=True)  # "8" + RPPS or "0" + ADELI
    rpps: str | None = Field(default=None, max_length=11, index=True)
    civility: str | None = Field(default=None, max_length=10)
    first_name: str = Field(max_length=120)
    last_name: str = Field(max_length=120)
    profession_code: str | None = Field(default=None, max_length=10)
    category_code: str | None = Field(default=None, max_length=10)
    savoir_faire_code: str | None = Field(default=None, max_length=20)


class Professional(ProfessionalBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    exercices: list = json_field(list)  # PSC SubjectRefPro.exercices as last received
    updated_at: dt.datetime = created_at_field()


class StructureBase(SQLModel):
    finess: str | None = Field(default=None, max_length=9, unique=True, index=True)  # site
    finess_ej: str | None = Field(default=None, max_length=9, index=True)  # legal entity
    siret: str | None = Field(default=None, max_length=14, unique=True, index=True)
    siren: str | None = Field(default=None, max_length=9, index=True)
    type: str = Field(default=StructureType.AUTRE, max_length=30)
    sector_code: str | None = Field(default=None, max_length=10)  # TRE_R02
    name: str = Field(max_length=200)
    trade_name: str | None = Field(default=None, max_length=200)
    address_line: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, max_length=5)
    city: str | None = Field(default=None, max_length=120)
    department_code: str | None = Field(
        default=None, foreign_key="department.code", index=True, max_length=3
    )


class Structure(StructureBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = created_at_field()


class Activity(SQLModel, table=True):
    """A professional works in a structure (from PSC activities); the basis of ORG rights."""

    __table_args__ = (UniqueConstraint("professional_id", "structure_id"),)

    id: int | None = Field(default=None, primary_key=True)
    professional_id: int = Field(foreign_key="professional.id", index=True)
    structure_id: int = Field(foreign_key="structure.id", index=True)
    role_code: str | None = Field(default=None, max_length=20)
    mode_code: str | None = Field(default=None, max_length=10)
    updated_at: dt.datetime = created_at_field()


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, max_length=254, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    display_name: str = Field(max_length=200)
    professional_id: int | None = Field(
        default=None, foreign_key="professional.id", unique=True, index=True
    )
    locale: str = Field(default="fr", max_length=5)
    is_active: bool = True
    failed_sign_ins: int = 0
    locked_until: dt.datetime | None = timestamp_field()
    created_at: dt.datetime = created_at_field()
    last_sign_in_at: dt.datetime | None = timestamp_field()


class Membership(SQLModel, table=True):
    """A role with its scope: a region, an operator, a structure, or the whole platform."""

    __table_args__ = (
        UniqueConstraint("account_id", "role", "region_code", "operator_id", "structure_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str = Field(max_length=30)  # Role
    region_code: str | None = Field(default=None, foreign_key="region.code", max_length=3)
    operator_id: int | None = Field(default=None, foreign_key="operator.id")
    structure_id: int | None = Field(default=None, foreign_key="structure.id")
    created_at: dt.datetime = created_at_field()


class AccountToken(SQLModel, table=True):
    """A single-use link sent by e-mail (invitation, password reset); only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=20)  # invitation | password_reset
    token_hash: str = Field(max_length=64, unique=True, index=True)
    email: str = Field(max_length=254)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    role: str | None = Field(default=None, max_length=30)
    scope: dict = json_field()  # region_code / operator_id / structure_id for invitations
    created_by_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: dt.datetime = created_at_field()
    expires_at: dt.datetime = created_at_field()
    used_at: dt.datetime | None = timestamp_field()
    note: str | None = text_field()
