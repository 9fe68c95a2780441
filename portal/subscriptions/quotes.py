"""The quote of an order and the regional subsidy rules, in integer cents. One place only.

Every order — a professional's own mailbox, a structure's mailboxes, a region's bulk order —
is priced here, and every programme's quota and budget is taken and given back here.

Rules of a subsidy programme (``SubsidyProgramme.rule``), per mailbox:

- ``free``: the region pays the whole price and the whole setup fee;
- ``percent``: the region pays ``value`` % of the price and the same ``value`` % of the setup
  fee (each rounded half up to the cent);
- ``amount``: the region pays ``value`` cents per month of the price (twelve times that for a
  yearly price), never more than the price. The setup fee is not covered: an amount per
  mailbox-month says nothing about a one-off fee.

A subsidy lasts ``duration_months`` from the start of the subscription (as long as the
programme when unset); the quote says what the price becomes afterwards. VAT is computed on
what remains to be paid, rounded half up to the cent.

Quota and budget: a programme may cap the number of subsidised mailboxes and the money it
commits. An order commits, per mailbox, the covered setup fee plus the covered price of every
billing period of the subsidy (:data:`DEFAULT_COMMITTED_MONTHS` when the programme sets no
duration). :func:`reserve` takes both in one conditional ``UPDATE`` (``… WHERE quota_used + n
<= quota_mailboxes``), so concurrent orders never exceed them, on SQLite and PostgreSQL alike.
:func:`release_order_subsidy` gives an order's share back, once, when the order ends without a
mailbox (see docs/decisions/0004-one-quote-engine.md).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass, fields

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from portal.accounts.models import Structure
from portal.catalogue.models import BillingPeriod, Department, OfferRevision
from portal.regions.models import SubsidyProgramme, SubsidyRule
from portal.subscriptions.models import Order

# When a programme sets no duration, its budget is committed for this many months per mailbox.
DEFAULT_COMMITTED_MONTHS = 12


def vat_of(amount_cents: int, vat_rate_bp: int) -> int:
    return (amount_cents * vat_rate_bp + 5000) // 10000


def months_per_period(billing_period: str) -> int:
    return 12 if billing_period == BillingPeriod.YEAR else 1


def monthly_price_cents(price_cents: int, billing_period: str) -> int:
    """A price per period expressed per month (yearly prices divided by 12, rounded down)."""
    return price_cents // months_per_period(billing_period)


def _percent_of(amount_cents: int, percent: int | None) -> int:
    return (amount_cents * max(0, min(100, percent or 0)) + 50) // 100


def covered_price_cents(programme, price_cents: int, billing_period: str) -> int:
    """How much of one mailbox's price per period ``programme`` pays (any object with the
    programme's ``rule`` and ``value``), never more than the price."""
    if programme.rule == SubsidyRule.FREE:
        return price_cents
    if programme.rule == SubsidyRule.PERCENT:
        return _percent_of(price_cents, programme.value)
    if programme.rule == SubsidyRule.AMOUNT:
        per_month = max(programme.value or 0, 0)
        return min(price_cents, per_month * months_per_period(billing_period))
    raise ValueError(f"unknown subsidy rule {programme.rule!r}")


def covered_setup_cents(programme, setup_fee_cents: int) -> int:
    """How much of one mailbox's setup fee ``programme`` pays (nothing for ``amount``)."""
    if programme.rule == SubsidyRule.FREE:
        return setup_fee_cents
    if programme.rule == SubsidyRule.PERCENT:
        return _percent_of(setup_fee_cents, programme.value)
    if programme.rule == SubsidyRule.AMOUNT:
        return 0
    raise ValueError(f"unknown subsidy rule {programme.rule!r}")


def per_mailbox_month_cents(programme, monthly_price: int) -> int:
    """How much of one mailbox-month priced ``monthly_price`` the programme pays."""
    return covered_price_cents(programme, monthly_price, BillingPeriod.MONTH)


# What a programme pays for one order --------------------------------------------------------


@dataclass(frozen=True)
class SubsidyTerms:
    """What a programme pays for one order; stored in the order's quote as ``subsidy``.

    It is also the reservation: :func:`release` gives back exactly ``mailboxes`` and
    ``committed_cents`` to ``programme_id``.
    """

    programme_id: int
    programme_slug: str
    rule: str
    value: int | None
    mailboxes: int
    duration_months: int | None  # how long the subsidy lasts (None: as long as the programme)
    months: int  # how long the budget is committed for
    per_period_cents: int  # per mailbox and billing period, excluding VAT
    setup_cents: int  # per mailbox, on the setup fee, excluding VAT
    per_mailbox_month_cents: int  # per_period_cents brought to a month
    committed_cents: int  # budget taken for the whole order

    def as_quote(self) -> dict:
        return asdict(self)


def subsidy_terms(
    programme: SubsidyProgramme, revision: OfferRevision, *, mailboxes: int
) -> SubsidyTerms:
    period_months = months_per_period(revision.billing_period)
    per_period = covered_price_cents(programme, revision.price_cents, revision.billing_period)
    setup = covered_setup_cents(programme, revision.setup_fee_cents)
    months = programme.duration_months or DEFAULT_COMMITTED_MONTHS
    periods = -(-months // period_months)  # a started period is paid in full
    return SubsidyTerms(
        programme_id=programme.id or 0,
        programme_slug=programme.slug,
        rule=programme.rule,
        value=programme.value,
        mailboxes=mailboxes,
        duration_months=programme.duration_months,
        months=months,
        per_period_cents=per_period,
        setup_cents=setup,
        per_mailbox_month_cents=per_period // period_months,
        committed_cents=(per_period * periods + setup) * mailboxes,
    )


# The quote ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    currency: str
    billing_period: str  # month | year
    mailboxes: int
    unit_price_cents: int  # per mailbox per period, before subsidy, excluding VAT
    setup_fee_cents: int  # per mailbox, excluding VAT
    subsidy_per_period_cents: int  # per mailbox, excluding VAT
    subsidy_setup_cents: int  # per mailbox, excluding VAT
    subsidy_months: int | None  # how long the subsidy lasts (None: as long as the programme)
    programme_id: int | None
    vat_rate_bp: int
    first_payment_excl_vat_cents: int  # everything due at the start (first period + setup)
    first_payment_vat_cents: int
    first_payment_cents: int  # including VAT
    recurring_cents: int  # per period while subsidised, including VAT, all mailboxes
    after_subsidy_recurring_cents: int  # per period once the subsidy ends, including VAT
    commitment_months: int
    subsidy: dict | None = None  # the SubsidyTerms reserved for the order (see release)

    @property
    def is_free(self) -> bool:
        """Nothing to pay while the subsidy lasts: the order skips payment."""
        return self.first_payment_cents == 0 and self.recurring_cents == 0

    @property
    def setup_fee_left_cents(self) -> int:
        """The setup fee per mailbox the buyer still pays, excluding VAT."""
        return self.setup_fee_cents - self.subsidy_setup_cents

    @property
    def digest(self) -> str:
        """What the buyer agrees to: the same digest means the same money, the same programme."""
        return (
            f"{self.programme_id or 0}:{self.mailboxes}:{self.first_payment_cents}:"
            f"{self.recurring_cents}:{self.after_subsidy_recurring_cents}"
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> Quote | None:
        """The quote stored on an order, or None for orders stored before quotes existed."""
        if not data or "unit_price_cents" not in data:
            return None
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


def compute_quote(
    revision: OfferRevision, *, mailboxes: int = 1, subsidy: SubsidyTerms | None = None
) -> Quote:
    """The quote for ``mailboxes`` mailboxes of ``revision``, with ``subsidy`` applied."""
    if mailboxes < 1:
        raise ValueError("an order has at least one mailbox")
    if subsidy is not None and subsidy.mailboxes != mailboxes:
        raise ValueError("the subsidy terms were made for another number of mailboxes")
    price, setup = revision.price_cents, revision.setup_fee_cents
    per_period = subsidy.per_period_cents if subsidy else 0
    on_setup = subsidy.setup_cents if subsidy else 0
    first_excl = (price - per_period + setup - on_setup) * mailboxes
    first_vat = vat_of(first_excl, revision.vat_rate_bp)
    recurring_excl = (price - per_period) * mailboxes
    after_excl = price * mailboxes
    return Quote(
        currency=revision.currency,
        billing_period=revision.billing_period,
        mailboxes=mailboxes,
        unit_price_cents=price,
        setup_fee_cents=setup,
        subsidy_per_period_cents=per_period,
        subsidy_setup_cents=on_setup,
        subsidy_months=subsidy.duration_months if subsidy else None,
        programme_id=subsidy.programme_id if subsidy else None,
        vat_rate_bp=revision.vat_rate_bp,
        first_payment_excl_vat_cents=first_excl,
        first_payment_vat_cents=first_vat,
        first_payment_cents=first_excl + first_vat,
        recurring_cents=recurring_excl + vat_of(recurring_excl, revision.vat_rate_bp),
        after_subsidy_recurring_cents=after_excl + vat_of(after_excl, revision.vat_rate_bp),
        commitment_months=revision.commitment_months,
        subsidy=subsidy.as_quote() if subsidy else None,
    )


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day ``months`` later (the last day of a shorter month), as billing counts."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def subsidy_end(quote: dict | None, started_at: dt.datetime) -> dt.datetime | None:
    """When the subsidised price of an order billed from ``started_at`` ends (None: it does not
    end before the order does, or nothing is subsidised per period)."""
    accepted = Quote.from_json(quote)
    if accepted is None or not accepted.subsidy_months or not accepted.subsidy_per_period_cents:
        return None
    period_months = months_per_period(accepted.billing_period)
    periods = -(-accepted.subsidy_months // period_months)  # a started period is covered
    return add_months(started_at, periods * period_months)


# Who a programme applies to ------------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    """Who the mailboxes are for, as far as subsidy rules care."""

    department_codes: frozenset[str]
    profession_code: str | None = None
    structure_type: str | None = None

    @classmethod
    def for_structure(cls, structure: Structure) -> Applicant:
        codes = {structure.department_code} if structure.department_code else set()
        return cls(department_codes=frozenset(codes), structure_type=structure.type)


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
    if not _covers_territory(session, programme, applicant.department_codes):
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


def _programmes_with_reasons(
    session: Session, *, revision: OfferRevision, applicant: Applicant, mailboxes: int, today
) -> list[tuple[SubsidyProgramme, SubsidyTerms, list[str]]]:
    programmes = session.exec(
        select(SubsidyProgramme)
        .where(SubsidyProgramme.offer_id == revision.offer_id)
        .order_by(SubsidyProgramme.id)
    ).all()
    found = []
    for programme in programmes:
        terms = subsidy_terms(programme, revision, mailboxes=mailboxes)
        reasons = ineligibility_reasons(
            session,
            programme,
            applicant,
            today=today,
            mailboxes=mailboxes,
            committed_cents=terms.committed_cents,
        )
        found.append((programme, terms, reasons))
    return found


def eligible_programmes(
    session: Session,
    *,
    revision: OfferRevision,
    applicant: Applicant,
    mailboxes: int,
    today: dt.date,
) -> list[SubsidyTerms]:
    """The programmes of the offer that apply to this order, the one paying the most first."""
    found = [
        terms
        for _programme, terms, reasons in _programmes_with_reasons(
            session, revision=revision, applicant=applicant, mailboxes=mailboxes, today=today
        )
        if not reasons
    ]
    # Stable sort: among equally generous programmes, the oldest comes first.
    return sorted(found, key=lambda terms: -(terms.per_period_cents + terms.setup_cents))


def exhausted_programmes(
    session: Session,
    *,
    revision: OfferRevision,
    applicant: Applicant,
    mailboxes: int,
    today: dt.date,
) -> list[tuple[SubsidyProgramme, list[str]]]:
    """Programmes that would apply but for their quota or budget, with the reason keys:
    the person is told why the price is not subsidised."""
    return [
        (programme, reasons)
        for programme, _terms, reasons in _programmes_with_reasons(
            session, revision=revision, applicant=applicant, mailboxes=mailboxes, today=today
        )
        if reasons and set(reasons) <= {"quota", "budget"}
    ]


def best_programme(
    session: Session,
    *,
    revision: OfferRevision,
    applicant: Applicant,
    mailboxes: int,
    today: dt.date,
) -> SubsidyTerms | None:
    """The programme that pays the most for this order among those that apply, if any."""
    found = eligible_programmes(
        session, revision=revision, applicant=applicant, mailboxes=mailboxes, today=today
    )
    return found[0] if found else None


def quote_and_reserve(
    session: Session,
    *,
    revision: OfferRevision,
    applicant: Applicant,
    mailboxes: int,
    today: dt.date,
) -> Quote:
    """The quote of an order being placed, with the best programme whose share could be
    reserved (in the caller's transaction); the full price when every programme is taken."""
    for terms in eligible_programmes(
        session, revision=revision, applicant=applicant, mailboxes=mailboxes, today=today
    ):
        if reserve(session, terms):
            return compute_quote(revision, mailboxes=mailboxes, subsidy=terms)
    return compute_quote(revision, mailboxes=mailboxes)


# Quota and budget ----------------------------------------------------------------------------


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


def release(session: Session, subsidy: SubsidyTerms | dict) -> None:
    """Give a reservation back to the quota and the budget (never below zero).

    Low level: an order's share is given back by :func:`release_order_subsidy`, which makes
    sure it happens once.
    """
    if isinstance(subsidy, SubsidyTerms):
        subsidy = subsidy.as_quote()
    programme_id = int(subsidy["programme_id"])
    mailboxes, committed = int(subsidy["mailboxes"]), int(subsidy["committed_cents"])
    table = SubsidyProgramme.__table__  # type: ignore[attr-defined]
    statement = (
        sa.update(table)
        .where(table.c.id == programme_id)
        .values(
            quota_used=sa.case(
                (table.c.quota_used >= mailboxes, table.c.quota_used - mailboxes), else_=0
            ),
            budget_used_cents=sa.case(
                (table.c.budget_used_cents >= committed, table.c.budget_used_cents - committed),
                else_=0,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(statement)
    _expire_programme(session, programme_id)


RELEASED = "subsidy_released"


def release_order_subsidy(session: Session, order: Order) -> bool:
    """Give ``order``'s reserved share back to its programme, once; True if it did now.

    The state machine calls this when an order ends without a mailbox (rejected, cancelled,
    and so refunded). The order's quote records the release, in the same transaction.
    """
    quote = dict(order.quote or {})
    if not quote.get("subsidy") or quote.get(RELEASED):
        return False
    release(session, quote["subsidy"])
    quote[RELEASED] = True
    order.quote = quote  # a new dict, so that the JSON column is written
    session.add(order)
    return True


def _covers_territory(
    session: Session, programme: SubsidyProgramme, department_codes: frozenset[str]
) -> bool:
    if not department_codes:
        return False
    if programme.departments:
        return bool(set(programme.departments) & department_codes)
    regions = session.exec(
        select(Department.region_code).where(Department.code.in_(department_codes))  # type: ignore[attr-defined]
    ).all()
    return programme.region_code in regions


def _expire_programme(session: Session, programme_id: int) -> None:
    # The UPDATE bypassed the ORM: a programme already loaded must be read again when used.
    programme = session.identity_map.get(session.identity_key(SubsidyProgramme, programme_id))
    if programme is not None:
        session.expire(programme)
