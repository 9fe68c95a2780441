"""The quote of an order: price, setup fee, subsidy and VAT, in integer cents. One place only.

Rules of a subsidy programme (``SubsidyProgramme.rule``):

- ``free``: the region pays the whole price and the setup fee;
- ``percent``: the region pays ``value`` % of the price and of the setup fee;
- ``amount``: the region pays ``value`` cents per mailbox and per month of the price (a yearly
  price is covered by twelve times that), never more than the price; the setup fee is not
  covered.

A subsidy lasts ``duration_months`` (all along when unset); the quote says what the price
becomes afterwards. VAT is computed on what remains to be paid, rounded half up to the cent.
The payments issue extends this module with quota and budget consumption.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from sqlmodel import Session, select

from portal.catalogue.models import Offer, OfferRevision
from portal.regions.models import SubsidyProgramme, SubsidyRule


def vat_of(amount_cents: int, vat_rate_bp: int) -> int:
    return (amount_cents * vat_rate_bp + 5000) // 10000


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

    @property
    def is_free(self) -> bool:
        """Nothing to pay while the subsidy lasts: the order skips payment."""
        return self.first_payment_cents == 0 and self.recurring_cents == 0

    def to_json(self) -> dict:
        return asdict(self)


def compute_quote(
    revision: OfferRevision, *, mailboxes: int = 1, programme: SubsidyProgramme | None = None
) -> Quote:
    """The quote for ``mailboxes`` mailboxes of ``revision``, with ``programme`` applied."""
    if mailboxes < 1:
        raise ValueError("an order has at least one mailbox")
    price, setup = revision.price_cents, revision.setup_fee_cents
    per_period, on_setup = _subsidy(revision, programme)
    net_period = price - per_period
    net_setup = setup - on_setup
    first_excl = (net_period + net_setup) * mailboxes
    first_vat = vat_of(first_excl, revision.vat_rate_bp)
    recurring_excl = net_period * mailboxes
    after_excl = price * mailboxes
    return Quote(
        currency=revision.currency,
        billing_period=revision.billing_period,
        mailboxes=mailboxes,
        unit_price_cents=price,
        setup_fee_cents=setup,
        subsidy_per_period_cents=per_period,
        subsidy_setup_cents=on_setup,
        subsidy_months=programme.duration_months if programme else None,
        programme_id=programme.id if programme else None,
        vat_rate_bp=revision.vat_rate_bp,
        first_payment_excl_vat_cents=first_excl,
        first_payment_vat_cents=first_vat,
        first_payment_cents=first_excl + first_vat,
        recurring_cents=recurring_excl + vat_of(recurring_excl, revision.vat_rate_bp),
        after_subsidy_recurring_cents=after_excl + vat_of(after_excl, revision.vat_rate_bp),
        commitment_months=revision.commitment_months,
    )


def _subsidy(revision: OfferRevision, programme: SubsidyProgramme | None) -> tuple[int, int]:
    """(per mailbox per period, per mailbox on the setup fee) paid by the programme."""
    if programme is None:
        return 0, 0
    price, setup = revision.price_cents, revision.setup_fee_cents
    if programme.rule == SubsidyRule.FREE:
        return price, setup
    if programme.rule == SubsidyRule.PERCENT:
        percent = max(0, min(100, programme.value or 0))
        return (price * percent + 50) // 100, (setup * percent + 50) // 100
    if programme.rule == SubsidyRule.AMOUNT:
        months = 12 if revision.billing_period == "year" else 1
        return min(price, (programme.value or 0) * months), 0
    raise ValueError(f"unknown subsidy rule {programme.rule!r}")


def applicable_programme(
    session: Session,
    offer: Offer,
    *,
    profession_code: str | None,
    department_codes: set[str],
    structure_type: str | None = None,
    today: dt.date | None = None,
) -> SubsidyProgramme | None:
    """The most generous open programme of the offer that applies where the person practises."""
    from portal.catalogue.models import Department

    today = today or dt.date.today()
    regions = {
        code
        for code in session.exec(
            select(Department.region_code).where(Department.code.in_(department_codes or {""}))
        )
    }
    best: tuple[int, SubsidyProgramme] | None = None
    revision = session.get(OfferRevision, offer.current_revision_id)
    for programme in session.exec(
        select(SubsidyProgramme).where(
            SubsidyProgramme.offer_id == offer.id, SubsidyProgramme.status == "published"
        )
    ):
        if programme.region_code not in regions:
            continue
        if programme.departments and not (set(programme.departments) & department_codes):
            continue
        if programme.professions and profession_code not in programme.professions:
            continue
        if programme.structure_types and structure_type not in programme.structure_types:
            continue
        if (programme.starts_on and programme.starts_on > today) or (
            programme.ends_on and programme.ends_on < today
        ):
            continue
        if (
            programme.quota_mailboxes is not None
            and programme.quota_used >= programme.quota_mailboxes
        ):
            continue
        value = sum(_subsidy(revision, programme)) if revision else 0
        if best is None or value > best[0]:
            best = (value, programme)
    return best[1] if best else None
