"""The quote engine: subsidy amounts (price and setup fee), eligibility, VAT, and a quota that
concurrent orders never exceed."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from portal.accounts.models import Account
from portal.catalogue.models import Department, Offer, OfferRevision, Operator, Region
from portal.db import create_engine
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import quotes
from portal.subscriptions.models import Order, OrderState
from tests.conftest import migrated_database_url
from tests.factories import make_offer

TODAY = dt.date(2026, 6, 1)


def make_programme(session, offer, **values) -> SubsidyProgramme:
    programme = SubsidyProgramme(
        slug=values.pop("slug", f"programme-{uuid.uuid4().hex[:8]}"),
        region_code=values.pop("region_code", "11"),
        offer_id=offer.id,
        name={"fr": "Programme test", "en": "Test programme"},
        rule=values.pop("rule", "free"),
        **values,
    )
    session.add(programme)
    session.flush()
    return programme


def paris_pharmacy(**values) -> quotes.Applicant:
    return quotes.Applicant(
        department_codes=frozenset({values.get("department_code", "75")}),
        profession_code=values.get("profession_code", "21"),
        structure_type=values.get("structure_type", "pharmacie"),
    )


@pytest.mark.parametrize(
    ("rule", "value", "price", "period", "expected"),
    [
        ("free", None, 1200, "month", 1200),
        ("percent", 50, 1200, "month", 600),
        ("percent", 150, 1200, "month", 1200),  # never more than the price
        ("amount", 500, 1200, "month", 500),
        ("amount", 5000, 1200, "month", 1200),
        ("free", None, 12000, "year", 1000),  # yearly price counted per month
    ],
)
def test_subsidy_per_mailbox_month(db_session, rule, value, price, period, expected):
    offer = make_offer(db_session, price_cents=price)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    revision.billing_period = period
    programme = make_programme(db_session, offer, rule=rule, value=value, duration_months=24)
    terms = quotes.subsidy_terms(programme, revision, mailboxes=3)
    assert terms.per_mailbox_month_cents == expected
    assert terms.committed_cents == expected * 24 * 3


@pytest.mark.parametrize(
    ("rule", "value", "covered_price", "covered_setup", "first", "after"),
    [
        # price 1000 per month, setup fee 500, VAT 20 %, 2 mailboxes
        ("free", None, 1000, 500, 0, 2400),
        ("percent", 50, 500, 250, 1800, 2400),
        ("percent", 33, 330, 165, (670 + 335) * 2 * 12 // 10, 2400),
        ("amount", 300, 300, 0, (700 + 500) * 2 * 12 // 10, 2400),
    ],
)
def test_one_setup_fee_rule_for_every_order(
    db_session, rule, value, covered_price, covered_setup, first, after
):
    """free and percent cover the setup fee as they cover the price; amount per month does not.
    The budget commits what the region pays: the setup fee and every subsidised month."""
    offer = make_offer(db_session, price_cents=1000)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    revision.setup_fee_cents = 500
    programme = make_programme(db_session, offer, rule=rule, value=value, duration_months=6)
    terms = quotes.subsidy_terms(programme, revision, mailboxes=2)
    quote = quotes.compute_quote(revision, mailboxes=2, subsidy=terms)
    assert (quote.subsidy_per_period_cents, quote.subsidy_setup_cents) == (
        covered_price,
        covered_setup,
    )
    assert quote.first_payment_cents == first
    assert quote.after_subsidy_recurring_cents == after
    assert quote.subsidy_months == 6
    assert terms.committed_cents == (covered_price * 6 + covered_setup) * 2
    assert quote.subsidy == terms.as_quote()  # what release gives back
    assert quotes.Quote.from_json(quote.to_json()) == quote


def test_a_yearly_price_commits_whole_years_of_budget(db_session):
    offer = make_offer(db_session, price_cents=12000)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    revision.billing_period = "year"
    programme = make_programme(db_session, offer, rule="amount", value=400, duration_months=18)
    terms = quotes.subsidy_terms(programme, revision, mailboxes=1)
    assert terms.per_period_cents == 4800  # 400 per month, twelve months a period
    assert terms.committed_cents == 4800 * 2  # 18 months start a second yearly period


def test_eligibility_by_territory_profession_structure_and_dates(db_session):
    offer = make_offer(db_session, price_cents=1200)
    programme = make_programme(
        db_session,
        offer,
        professions=["21"],
        structure_types=["pharmacie", "msp"],
        starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2026, 12, 31),
    )

    def reasons(applicant, today=TODAY):
        return quotes.ineligibility_reasons(db_session, programme, applicant, today=today)

    assert reasons(paris_pharmacy()) == []
    assert reasons(paris_pharmacy(department_code="69")) == ["territory"]
    assert reasons(paris_pharmacy(profession_code="10")) == ["profession"]
    assert reasons(paris_pharmacy(structure_type="laboratoire")) == ["structure_type"]
    assert reasons(paris_pharmacy(), today=dt.date(2025, 12, 31)) == ["not_started"]
    assert reasons(paris_pharmacy(), today=dt.date(2027, 1, 1)) == ["ended"]
    programme.departments = ["92"]
    assert reasons(paris_pharmacy()) == ["territory"]
    assert reasons(paris_pharmacy(department_code="92")) == []


def test_best_programme_pays_the_most_and_skips_exhausted_ones(db_session):
    offer = make_offer(db_session, price_cents=1200)
    make_programme(db_session, offer, rule="percent", value=30)
    exhausted = make_programme(db_session, offer, rule="free", quota_mailboxes=5, quota_used=5)
    half = make_programme(db_session, offer, rule="percent", value=50)
    terms = quotes.best_programme(
        db_session,
        revision=db_session.get(OfferRevision, offer.current_revision_id),
        applicant=paris_pharmacy(),
        mailboxes=1,
        today=TODAY,
    )
    assert terms.programme_id == half.id and terms.per_mailbox_month_cents == 600
    assert exhausted.id != terms.programme_id


def test_reserve_respects_quota_and_budget_and_release_gives_back(db_session):
    offer = make_offer(db_session, price_cents=1000)
    programme = make_programme(
        db_session, offer, rule="free", duration_months=10, quota_mailboxes=5, budget_cents=40000
    )
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    terms = quotes.subsidy_terms(programme, revision, mailboxes=3)
    assert quotes.reserve(db_session, terms)  # 3 mailboxes, 30,000 cents
    assert (programme.quota_used, programme.budget_used_cents) == (3, 30000)
    assert not quotes.reserve(db_session, terms)  # 6 > 5 mailboxes
    one = quotes.subsidy_terms(programme, revision, mailboxes=1)
    assert quotes.reserve(db_session, one)  # 4 mailboxes, 40,000 cents: the whole budget
    assert not quotes.reserve(db_session, one)  # the quota has room, the budget has not
    quotes.release(db_session, terms.as_quote())
    assert (programme.quota_used, programme.budget_used_cents) == (1, 10000)


# Concurrency: real commits from many threads, on a database of its own ---------------------


@pytest.fixture(scope="module")
def quota_engine(tmp_path_factory):
    url = migrated_database_url(tmp_path_factory.mktemp("quota"), "quota")
    engine = create_engine(url)
    with Session(engine) as session:
        session.add(Region(code="11", name="Île-de-France"))
        session.flush()
        session.add(Department(code="75", name="Paris", region_code="11"))
        operator = Operator(slug="op", name="Op", kind="commercial")
        session.add(operator)
        session.flush()
        offer = Offer(
            slug="subsidised", name="Subsidised", operator_id=operator.id, status="published"
        )
        session.add(offer)
        session.flush()
        revision = OfferRevision(offer_id=offer.id, price_cents=1500)
        session.add(revision)
        session.add_all(Account(display_name=f"Buyer {n}") for n in range(50))
        session.commit()
    yield engine
    engine.dispose()


def submit_order(engine, account_id: int, barrier: threading.Barrier) -> None:
    """What order submission does: quote (with the best programme), reserve, store, commit."""
    barrier.wait()
    for _attempt in range(200):
        with Session(engine) as session:
            try:
                offer = session.exec(select(Offer).where(Offer.slug == "subsidised")).one()
                revision = session.exec(
                    select(OfferRevision).where(OfferRevision.offer_id == offer.id)
                ).one()
                terms = quotes.best_programme(
                    session,
                    revision=revision,
                    applicant=paris_pharmacy(),
                    mailboxes=1,
                    today=TODAY,
                )
                if terms is not None and not quotes.reserve(session, terms):
                    terms = None  # someone took the last place meanwhile: full price
                session.add(
                    Order(
                        idempotency_key=uuid.uuid4().hex,
                        account_id=account_id,
                        offer_revision_id=revision.id,
                        programme_id=terms.programme_id if terms else None,
                        quote={"subsidy": terms.as_quote() if terms else None},
                        state=OrderState.SUBMITTED,
                    )
                )
                session.commit()
                return
            except sa.exc.OperationalError:
                # SQLite refuses a write whose read snapshot went stale: start again.
                session.rollback()
    raise AssertionError("the order could not be stored")


def test_fifty_concurrent_orders_never_exceed_a_quota_of_twenty(quota_engine):
    with Session(quota_engine) as session:
        offer = session.exec(select(Offer).where(Offer.slug == "subsidised")).one()
        programme = SubsidyProgramme(
            slug="quota-20",
            region_code="11",
            offer_id=offer.id,
            name={"fr": "Quota", "en": "Quota"},
            rule="free",
            duration_months=12,
            quota_mailboxes=20,
        )
        session.add(programme)
        session.commit()
        programme_id = programme.id
        account_ids = session.exec(select(Account.id)).all()
    barrier = threading.Barrier(len(account_ids))
    errors: list[BaseException] = []

    def run(account_id):
        try:
            submit_order(quota_engine, account_id, barrier)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(a,)) for a in account_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Session(quota_engine) as session:
        orders = session.exec(select(Order)).all()
        programme = session.get(SubsidyProgramme, programme_id)
        assert len(orders) == 50
        assert sum(1 for o in orders if o.programme_id == programme_id) == 20
        assert programme.quota_used == 20
        assert programme.budget_used_cents == 20 * 12 * 1500
        # A cancelled order gives its place back, and the next order gets it.
        cancelled = next(o for o in orders if o.programme_id == programme_id)
        quotes.release(session, cancelled.quote["subsidy"])
        session.commit()
        session.refresh(programme)
        assert programme.quota_used == 19


def test_a_subsidy_ends_after_its_months_counted_in_whole_billing_periods(db_session):
    assert quotes.add_months(dt.datetime(2027, 1, 31, 9, tzinfo=dt.UTC), 1) == dt.datetime(
        2027, 2, 28, 9, tzinfo=dt.UTC
    )
    assert quotes.add_months(dt.datetime(2027, 11, 30, tzinfo=dt.UTC), 3).date() == dt.date(
        2028, 2, 29
    )
    offer = make_offer(db_session, price_cents=12000)
    revision = db_session.get(OfferRevision, offer.current_revision_id)
    revision.billing_period = "year"
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

    def end_of(**values):
        programme = make_programme(db_session, offer, **values)
        terms = quotes.subsidy_terms(programme, revision, mailboxes=1)
        return quotes.subsidy_end(quotes.compute_quote(revision, subsidy=terms).to_json(), start)

    assert end_of(duration_months=18).date() == dt.date(2028, 6, 1)  # two whole years
    assert end_of(duration_months=None) is None  # as long as the programme
    assert end_of(rule="amount", value=0, duration_months=6) is None  # nothing subsidised
    assert quotes.subsidy_end(None, start) is None
