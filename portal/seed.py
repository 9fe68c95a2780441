"""Load the seed data of ``seed/`` (territories, operators, offers…) idempotently.

Running it again changes nothing; a changed term in ``offers.yaml`` becomes a new offer
revision, so subscriptions keep the terms they accepted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from portal.accounts.models import Professional
from portal.accounts.psc import PscClaimsError, identity_from_userinfo, record_identity
from portal.catalogue.models import (
    ComparisonAttribute,
    Department,
    Offer,
    OfferRevision,
    OfferStatus,
    Operator,
    Region,
)
from portal.config import PROJECT_ROOT
from portal.db import utcnow
from portal.regions.models import SubsidyProgramme

SEED_DIR = PROJECT_ROOT / "seed"


class SeedError(Exception):
    """The seed files are inconsistent; the message names the file and the entry."""


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        kinds = sorted(set(self.created) | set(self.updated))
        if not kinds:
            return ["Nothing to change: the database already holds the seed data."]
        return [
            f"{kind}: {self.created.get(kind, 0)} created, {self.updated.get(kind, 0)} updated"
            for kind in kinds
        ]


def _load(seed_dir: Path, name: str) -> list[dict[str, Any]]:
    path = seed_dir / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SeedError(f"{path} is missing") from error
    except yaml.YAMLError as error:
        raise SeedError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, list):
        raise SeedError(f"{path} must hold a list of entries")
    return data


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _upsert(session: Session, report: SeedReport, model: type, key: dict, values: dict) -> Any:
    obj = session.exec(select(model).filter_by(**key)).first()
    kind = model.__name__
    if obj is None:
        obj = model(**key, **values)
        session.add(obj)
        report.count(report.created, kind)
    elif _apply(obj, values):
        report.count(report.updated, kind)
    return obj


def seed_database(session: Session, seed_dir: Path = SEED_DIR) -> SeedReport:
    """Bring the database in line with the seed files. The caller commits."""
    report = SeedReport()
    _seed_regions(session, report, _load(seed_dir, "regions.yaml"))
    _seed_attributes(session, report, _load(seed_dir, "comparison_attributes.yaml"))
    operators = _seed_operators(session, report, _load(seed_dir, "operators.yaml"))
    session.flush()
    _seed_offers(session, report, _load(seed_dir, "offers.yaml"), operators)
    session.flush()
    _seed_professionals(session, report, _load(seed_dir, "professionals.yaml"))
    return report


def _seed_professionals(session: Session, report: SeedReport, entries: list[dict]) -> None:
    """Demo professionals, recorded exactly as a Pro Santé Connect sign-in would record them."""
    for entry in entries:
        try:
            identity = identity_from_userinfo(entry.get("userinfo") or {})
        except PscClaimsError as error:
            raise SeedError(f"professionals.yaml: entry {entry.get('key')!r}: {error}") from error
        existing = session.exec(
            select(Professional).where(Professional.idnps == identity.idnps)
        ).first()
        if (
            existing is not None
            and existing.exercices == identity.exercices
            and (existing.first_name, existing.last_name)
            == (identity.first_name, identity.last_name)
        ):
            continue
        record_identity(session, identity)
        report.count(report.created if existing is None else report.updated, "Professional")


def _seed_regions(session: Session, report: SeedReport, regions: list[dict]) -> None:
    for entry in regions:
        _upsert(
            session,
            report,
            Region,
            {"code": str(entry["code"])},
            {
                "name": entry["name"],
                "situation": entry.get("situation", "buyer"),
                "launching_regional_operator": bool(entry.get("launching_regional_operator")),
            },
        )
        for department in entry.get("departments", []):
            _upsert(
                session,
                report,
                Department,
                {"code": str(department["code"])},
                {"name": department["name"], "region_code": str(entry["code"])},
            )
    session.flush()


def _seed_attributes(session: Session, report: SeedReport, attributes: list[dict]) -> None:
    for position, entry in enumerate(attributes):
        _upsert(
            session,
            report,
            ComparisonAttribute,
            {"key": entry["key"]},
            {
                "group": entry["group"],
                "position": position,
                "type": entry["type"],
                "source": entry.get("source", "features"),
                "unit": entry.get("unit"),
                "path": entry.get("path"),
                "label": entry["label"],
                "help": entry.get("help") or {},
                "options": list(entry.get("options") or []),
                "null_means": entry.get("null_means") or {},
                "localized": bool(entry.get("localized")),
                "filterable": bool(entry.get("filterable")),
            },
        )


def _seed_operators(
    session: Session, report: SeedReport, operators: list[dict]
) -> dict[str, Operator]:
    by_slug = {}
    for entry in operators:
        values = {
            "name": entry["name"],
            "kind": entry["kind"],
            "demo": bool(entry.get("demo")),
            "ans_contract": bool(entry.get("ans_contract")),
            "hds_certified": bool(entry.get("hds_certified")),
            "mail_domains": list(entry.get("mail_domains") or []),
            "website": entry.get("website"),
            "support_hours": entry.get("support_hours") or {},
            "description": entry.get("description") or {},
        }
        if "adapter_kind" in entry:
            values["adapter_kind"] = entry["adapter_kind"]
            values["adapter_settings"] = entry.get("adapter_settings") or {}
        by_slug[entry["slug"]] = _upsert(session, report, Operator, {"slug": entry["slug"]}, values)
    return by_slug


def _revision_terms(entry: dict) -> dict[str, Any]:
    price = entry.get("price") or {}
    return {
        "price_cents": int(price.get("amount_cents", 0)),
        "currency": price.get("currency", "EUR"),
        "billing_period": price.get("period", "month"),
        "setup_fee_cents": int(price.get("setup_fee_cents", 0)),
        "commitment_months": int(price.get("commitment_months", 0)),
        "vat_rate_bp": int(price.get("vat_rate_bp", 2000)),
        "features": entry.get("features") or {},
        "summary": entry.get("summary") or {},
        "description": entry.get("description") or {},
        "eligibility": entry.get("eligibility") or {},
    }


def _seed_offers(
    session: Session, report: SeedReport, offers: list[dict], operators: dict[str, Operator]
) -> None:
    for entry in offers:
        operator = operators.get(entry["operator"])
        if operator is None:
            raise SeedError(
                f"offers.yaml: offer {entry['slug']!r} names unknown operator {entry['operator']!r}"
            )
        coverage = entry.get("coverage") or {"national": True}
        values = {
            "name": entry["name"],
            "demo": bool(entry.get("demo")),
            "operator_id": operator.id,
            "publisher_region_code": entry.get("publisher_region"),
            "mailbox_types": list(entry.get("mailbox_types") or []),
            "professions": [str(code) for code in entry.get("professions") or []],
            "structure_types": list(entry.get("structure_types") or []),
            "coverage_national": bool(coverage.get("national")),
            "coverage_regions": [str(code) for code in coverage.get("regions") or []],
            "coverage_departments": [str(code) for code in coverage.get("departments") or []],
            "max_per_professional": entry.get("max_per_professional"),
            "status": entry.get("status", OfferStatus.PUBLISHED),
        }
        offer = _upsert(session, report, Offer, {"slug": entry["slug"]}, values)
        session.flush()
        _seed_revision(session, report, offer, _revision_terms(entry))
        if entry.get("subsidy"):
            _seed_programme(session, report, offer, entry["subsidy"])


def _seed_revision(session: Session, report: SeedReport, offer: Offer, terms: dict) -> None:
    current = (
        session.get(OfferRevision, offer.current_revision_id) if offer.current_revision_id else None
    )
    if current is not None and all(getattr(current, k) == v for k, v in terms.items()):
        return
    number = 1 if current is None else current.number + 1
    revision = OfferRevision(offer_id=offer.id, number=number, published_at=utcnow(), **terms)
    session.add(revision)
    session.flush()
    offer.current_revision_id = revision.id
    offer.updated_at = utcnow()
    report.count(report.created, "OfferRevision")


def _seed_programme(session: Session, report: SeedReport, offer: Offer, subsidy: dict) -> None:
    region = str(subsidy["region"])
    _upsert(
        session,
        report,
        SubsidyProgramme,
        {"slug": f"{offer.slug}-{region}"},
        {
            "region_code": region,
            "offer_id": offer.id,
            "name": subsidy.get("name") or {},
            "rule": subsidy["rule"],
            "value": subsidy.get("value"),
            "duration_months": subsidy.get("duration_months"),
            "structure_types": list(subsidy.get("structure_types") or []),
            "professions": [str(code) for code in subsidy.get("professions") or []],
            "departments": [str(code) for code in subsidy.get("departments") or []],
            "quota_mailboxes": subsidy.get("quota_mailboxes"),
            "budget_cents": subsidy.get("budget_cents"),
            "needs_approval": bool(subsidy.get("needs_approval")),
            "starts_on": _date(subsidy.get("starts_on")),
            "ends_on": _date(subsidy.get("ends_on")),
            "demo": offer.demo,
        },
    )


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
