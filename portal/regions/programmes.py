"""Subsidy programmes as a region's staff create, edit, publish and close them.

How much a programme pays and who is eligible is decided in :mod:`portal.subscriptions.quotes`;
this module only keeps programmes consistent while their authors change them: a programme
belongs to one region, funds an offer available there, and never gets a quota or budget
below what orders already consumed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.audit import record_audit
from portal.catalogue.index import forget_index
from portal.catalogue.models import ComparisonAttribute, Department, Offer, OfferStatus
from portal.regions.models import SubsidyProgramme, SubsidyRule

DRAFT, PUBLISHED, CLOSED = "draft", "published", "closed"


class ProgrammeError(Exception):
    """A change the programme's state forbids; the message is for the user."""


@dataclass(frozen=True)
class ProgrammeData:
    """A programme as its form describes it (amounts in cents, dates as dates)."""

    name_fr: str
    name_en: str
    offer_id: int
    rule: str
    value: int | None
    duration_months: int | None
    structure_types: list[str]
    professions: list[str]
    departments: list[str]
    quota_mailboxes: int | None
    budget_cents: int | None
    needs_approval: bool
    starts_on: dt.date | None
    ends_on: dt.date | None


def offers_for_region(session: Session, region_code: str) -> list[Offer]:
    """Published offers a region may fund: national ones, and those covering the region."""
    offers = session.exec(
        select(Offer).where(Offer.status == OfferStatus.PUBLISHED).order_by(Offer.name)
    ).all()
    departments = set(
        session.exec(select(Department.code).where(Department.region_code == region_code)).all()
    )
    return [
        offer
        for offer in offers
        if offer.coverage_national
        or region_code in offer.coverage_regions
        or departments.intersection(offer.coverage_departments)
    ]


def options_of(session: Session, key: str) -> list[dict]:
    """Choices of an audience attribute of the comparison grid (professions, structure types)."""
    attribute = session.get(ComparisonAttribute, key)
    return list(attribute.options) if attribute else []


def programmes_of(session: Session, region_code: str) -> list[SubsidyProgramme]:
    return list(
        session.exec(
            select(SubsidyProgramme)
            .where(SubsidyProgramme.region_code == region_code)
            .order_by(SubsidyProgramme.created_at.desc(), SubsidyProgramme.id.desc())
        ).all()
    )


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "programme"


def _unique_slug(session: Session, region_code: str, name: str) -> str:
    base = f"{region_code}-{_slug(name)}"
    slug, n = base, 1
    while session.exec(select(SubsidyProgramme.id).where(SubsidyProgramme.slug == slug)).first():
        n += 1
        slug = f"{base}-{n}"
    return slug


def check(
    session: Session,
    region_code: str,
    data: ProgrammeData,
    programme: SubsidyProgramme | None = None,
) -> dict[str, str]:
    """Errors by form field name; empty when the programme may be saved."""
    errors: dict[str, str] = {}
    if data.offer_id not in {o.id for o in offers_for_region(session, region_code)}:
        errors["offer_id"] = _("Choisissez une offre publiée disponible dans votre région.")
    if data.rule == SubsidyRule.PERCENT and not (data.value and 1 <= data.value <= 100):
        errors["value"] = _(
            "Pour une prise en charge en pourcentage, indiquez un nombre de 1 à 100."
        )
    if data.rule == SubsidyRule.AMOUNT and not (data.value and data.value > 0):
        errors["value"] = _(
            "Pour un montant par boîte et par mois, indiquez un montant en euros supérieur à 0."
        )
    own_departments = set(
        session.exec(select(Department.code).where(Department.region_code == region_code)).all()
    )
    if not set(data.departments) <= own_departments:
        errors["departments"] = _("Choisissez uniquement des départements de votre région.")
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        errors["ends_on"] = _("La date de fin doit suivre la date de début.")
    if programme is not None:
        if data.quota_mailboxes is not None and data.quota_mailboxes < programme.quota_used:
            errors["quota_mailboxes"] = _(
                "Le quota ne peut pas être inférieur aux %(used)d boîtes déjà attribuées.",
                used=programme.quota_used,
            )
        if data.budget_cents is not None and data.budget_cents < programme.budget_used_cents:
            errors["budget"] = _("Le budget ne peut pas être inférieur au montant déjà engagé.")
        if programme.status != DRAFT and data.offer_id != programme.offer_id:
            errors["offer_id"] = _(
                "L’offre d’un programme publié ne peut plus changer : fermez-le et créez-en un autre."
            )
    return errors


def _apply(programme: SubsidyProgramme, data: ProgrammeData) -> None:
    programme.name = {"fr": data.name_fr, "en": data.name_en}
    programme.offer_id = data.offer_id
    programme.rule = data.rule
    programme.value = data.value if data.rule != SubsidyRule.FREE else None
    programme.duration_months = data.duration_months
    programme.structure_types = list(data.structure_types)
    programme.professions = list(data.professions)
    programme.departments = list(data.departments)
    programme.quota_mailboxes = data.quota_mailboxes
    programme.budget_cents = data.budget_cents
    programme.needs_approval = data.needs_approval
    programme.starts_on = data.starts_on
    programme.ends_on = data.ends_on


def create_programme(
    *, session: Session, region_code: str, data: ProgrammeData, actor_id: int | None
) -> SubsidyProgramme:
    """A new programme, as a draft nobody sees until it is published."""
    programme = SubsidyProgramme(
        slug=_unique_slug(session, region_code, data.name_fr),
        region_code=region_code,
        offer_id=data.offer_id,
        rule=data.rule,
        status=DRAFT,
    )
    _apply(programme, data)
    session.add(programme)
    session.flush()
    _audit(session, "programme_created", programme, actor_id)
    return programme


def update_programme(
    *, session: Session, programme: SubsidyProgramme, data: ProgrammeData, actor_id: int | None
) -> None:
    """Change a programme. Orders already placed keep the subsidy written in their quote."""
    if programme.status == CLOSED:
        raise ProgrammeError(_("Un programme fermé ne peut plus être modifié."))
    _apply(programme, data)
    session.add(programme)
    _audit(session, "programme_updated", programme, actor_id)
    session.flush()
    forget_index(current_app)


def publish_programme(
    *, session: Session, programme: SubsidyProgramme, actor_id: int | None
) -> None:
    if programme.status != DRAFT:
        raise ProgrammeError(_("Seul un programme en brouillon peut être publié."))
    programme.status = PUBLISHED
    session.add(programme)
    _audit(session, "programme_published", programme, actor_id)
    session.flush()
    forget_index(current_app)


def close_programme(*, session: Session, programme: SubsidyProgramme, actor_id: int | None) -> None:
    """No new order can use the programme; orders already placed keep their subsidy."""
    if programme.status == CLOSED:
        raise ProgrammeError(_("Ce programme est déjà fermé."))
    programme.status = CLOSED
    session.add(programme)
    _audit(session, "programme_closed", programme, actor_id)
    session.flush()
    forget_index(current_app)


def _audit(session: Session, action: str, programme: SubsidyProgramme, actor_id: int | None):
    record_audit(
        session,
        action=action,
        actor_account_id=actor_id,
        target_type="subsidy_programme",
        target_id=programme.id,
        details={"region": programme.region_code, "status": programme.status},
    )


__all__ = [
    "CLOSED",
    "DRAFT",
    "PUBLISHED",
    "ProgrammeData",
    "ProgrammeError",
    "check",
    "close_programme",
    "create_programme",
    "offers_for_region",
    "options_of",
    "programmes_of",
    "publish_programme",
    "update_programme",
]
