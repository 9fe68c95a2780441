"""Regional subsidy programmes: who is eligible, how much they pay for, and the shared quota.

The quote engine asks :func:`best_programme` which programme applies to an order and
:func:`subsidy_terms` how much it covers; the order submission then calls :func:`reserve` in
the same transaction that stores the order. The reservation is one conditional ``UPDATE``
(``… WHERE quota_used + n <= quota_mailboxes``), so however many orders arrive at once the
quota and the budget are never exceeded, on SQLite and PostgreSQL alike; :func:`release` gives
an order's share back when it is cancelled, rejected or refunded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from portal.catalogue.models import BillingPeriod, Department
from portal.regions.models import SubsidyProgramme, SubsidyRule

# When a programme sets no duration, its budget is committed for this many months per mailbox.
DEFAULT_COMMITTED_MONTHS = 12


@dataclass(frozen=True)
class Applicant:
    """Who the mailboxes are for, as far as subsidy rules care."""

    department_code: str | None
    profession_code: str | None = None
    structure_type: str | None = None


@dataclass(frozen=True)
class SubsidyTerms:
    """What a programme pays for one order; stored in the order's quote (plain JSON)."""

    programme_id: int
    programme_slug: str
    rule: str
    value: int | None
    mailboxes: int
    months: int  # how long the subsidy lasts
    per_mailbox_month_cents: int  # excluding VAT
    committed_cents: int  # budget taken: per mailbox-month x months x mailboxes

    def as_quote(self) -> dict:
        return asdict(self)


REASONS = {
    "closed": _l("Ce programme de subvention n’est pas ouvert."),
    "not_started": _l("Ce programme de subvention n’a pas encore commencé."),
    "ended": _l("Ce programme de subvention est terminé."),
    "territory": _l("Ce programme de subvention ne couvre pas votre département."),
    "profession": _l("Ce programme de subvention ne couvre pas votre profession."),
    "structure_type": _l("Ce programme de subvention ne couvre pas ce type de structure."),
    "quota": _l("Le quota de boîtes subventionnées de ce programme est atteint."),
    "budget": _l("Le budget de ce programme de subvention est épuisé."),
}


def monthly_price_cents(price_cents: int, billing_period: str) -> int:
    """A price per period expressed per month (yearly prices divided by 12, rounded down)."""
    return price_cents // 12 if billing_period == BillingPeriod.YEAR else price_cents


def per_mailbox_month_cents(programme: SubsidyProgramme, monthly_price: int) -> int:
    """How much of one mailbox-month the programme pays, never more than the price."""
    if programme.rule == SubsidyRule.FREE:
        return monthly_price
    if programme.rule == SubsidyRule.PERCENT:
        return monthly_price * min(max(programme.value or 0, 0), 100) // 100
    if programme.rule == SubsidyRule.AMOUNT:
        return min(max(programme.value or 0, 0), monthly_price)
    raise ValueError(f"unknown subsidy rule {programme.rule!r}")


def subsidy_terms(
    programme: SubsidyProgramme, *, price_cents: int, billing_period: str, mailboxes: int
) -> SubsidyTerms:
    monthly = monthly_price_cents(price_cents, billing_period)
    per_month = per_mailbox_month_cents(programme, monthly)
    months = programme.duration_months or DEFAULT_COMMITTED_MONTHS
    return SubsidyTerms(
        programme_id=programme.id or 0,
        programme_slug=programme.slug,
        rule=programme.rule,
        value=programme.value,
        mailboxes=mailboxes,
        months=months,
        per_mailbox_month_cents=per_month,
        committed_cents=per_month * months * mailboxes,
    )


def ineligibility_reasons(
    session: Session,
    programme: SubsidyProgramme,
    applicant: Applicant,
    *,
    today: dt.date,
    mailboxes: int = 1,
    committed_cents: int = 0,
) -> list[str]:
    """Reason keys (see :data:`REASONS`) why the programme does not apply; empty if it does.

    Quota and budget are read here to explain, not to decide: only :func:`reserve` decides.
    """
    reasons: list[str] = []
    if programme.status != "published":
        reasons.append("closed")
    if programme.starts_on and today < programme.starts_on:
        reasons.append("not_started")
    if programme.ends_on and today > programme.ends_on:
        reasons.append("ended")
    if not _covers_department(session, programme, applicant.department_code):
        reasons.append("territory")
    if programme.professions and applicant.profession_code not in programme.professions:
        reasons.append("profession")
    if programme.structure_types and applicant.structure_type not in programme.structure_types:
        reasons.append("structure_type")
    if (
        programme.quota_mailboxes is not None
        and programme.quota_used + mailboxes > programme.quota_mailboxes
    ):
        reasons.append("quota")
    if (
        programme.budget_cents is not None
        and programme.budget_used_cents + committed_cents > programme.budget_cents
    ):
        reasons.append("budget")
    return reasons


def best_programme(
    session: Session,
    *,
    offer_id: int,
    applicant: Applicant,
    price_cents: int,
    billing_period: str,
    mailboxes: int,
    today: dt.date,
) -> SubsidyTerms | None:
    """The programme that pays the most for this order among those that apply, if any."""
    programmes = session.exec(
        select(SubsidyProgramme)
        .where(SubsidyProgramme.offer_id == offer_id)
        .order_by(SubsidyProgramme.id)
    ).all()
    best: SubsidyTerms | None = None
    for programme in programmes:
        terms = subsidy_terms(
            programme, price_cents=price_cents, billing_period=billing_period, mailboxes=mailboxes
        )
        if ineligibility_reasons(
            session,
            programme,
            applicant,
            today=today,
            mailboxes=mailboxes,
            committed_cents=terms.committed_cents,
        ):
            continue
        if best is None or terms.per_mailbox_month_cents > best.per_mailbox_month_cents:
            best = terms
    return best


def reserve(session: Session, terms: SubsidyTerms) -> bool:
    """Take ``terms.mailboxes`` from the quota and ``terms.committed_cents`` from the budget.

    Returns False, changing nothing, when either would be exceeded. Atomic: the condition and
    the increment are one statement, so concurrent reservations cannot both pass the check.
    """
    table = SubsidyProgramme.__table__  # type: ignore[attr-defined]
    statement = (
        sa.update(table)
        .where(table.c.id == terms.programme_id)
        .where(table.c.status == "published")
        .where(
            sa.or_(
                table.c.quota_mailboxes.is_(None),
                table.c.quota_used + terms.mailboxes <= table.c.quota_mailboxes,
            )
        )
        .where(
            sa.or_(
                table.c.budget_cents.is_(None),
                table.c.budget_used_cents + terms.committed_cents <= table.c.budget_cents,
            )
        )
        .values(
            quota_used=table.c.quota_used + terms.mailboxes,
            budget_used_cents=table.c.budget_used_cents + terms.committed_cents,
        )
        .execution_options(synchronize_session=False)
    )
    reserved = session.connection().execute(statement).rowcount == 1
    _expire_programme(session, terms.programme_id)
    return reserved


def release(session: Session, terms: SubsidyTerms | dict) -> None:
    """Give a cancelled order's share back to the quota and the budget (never below zero)."""
    if isinstance(terms, dict):
        terms = SubsidyTerms(**terms)
    table = SubsidyProgramme.__table__  # type: ignore[attr-defined]
    statement = (
        sa.update(table)
        .where(table.c.id == terms.programme_id)
        .values(
            quota_used=sa.case(
                (table.c.quota_used >= terms.mailboxes, table.c.quota_used - terms.mailboxes),
                else_=0,
            ),
            budget_used_cents=sa.case(
                (
                    table.c.budget_used_cents >= terms.committed_cents,
                    table.c.budget_used_cents - terms.committed_cents,
                ),
                else_=0,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(statement)
    _expire_programme(session, terms.programme_id)


def _covers_department(
    session: Session, programme: SubsidyProgramme, department_code: str | None
) -> bool:
    if department_code is None:
        return False
    if programme.departments:
        return department_code in programme.departments
    department = session.get(Department, department_code)
    return department is not None and department.region_code == programme.region_code


def _expire_programme(session: Session, programme_id: int) -> None:
    # The UPDATE bypassed the ORM: a programme already loaded must be read again when used.
    programme = session.identity_map.get(session.identity_key(SubsidyProgramme, programme_id))
    if programme is not None:
        session.expire(programme)
