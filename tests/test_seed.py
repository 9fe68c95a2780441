"""The seed catalogue: complete territories, the national offer, demo data marked as such."""

from __future__ import annotations

from collections import Counter

from sqlmodel import func, select

from portal.catalogue.models import Department, Offer, OfferRevision, Operator, Region
from portal.regions.models import SubsidyProgramme
from portal.seed import seed_database


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_every_region_and_department(db_session):
    assert count(db_session, Region) == 18
    assert count(db_session, Department) == 101
    corsica = {d.code for d in db_session.exec(select(Department)).all()} & {"2A", "2B"}
    assert corsica == {"2A", "2B"}


def test_regional_situation_from_the_field(db_session):
    situation = {r.code: r.situation for r in db_session.exec(select(Region)).all()}
    assert situation["84"] == "own_operator"
    assert {c for c, s in situation.items() if s == "none"} == {"53", "06", "04"}
    assert Counter(situation.values())["buyer"] == 14
    publishers = {o.publisher_region_code for o in db_session.exec(select(Offer)).all()}
    assert not publishers & {"53", "06", "04"}
    assert {c for c, s in situation.items() if s == "buyer"} <= publishers


def test_mailiz_is_the_free_national_offer_for_the_seven_ordres(db_session):
    mailiz = db_session.exec(select(Offer).where(Offer.slug == "mailiz")).one()
    revision = db_session.get(OfferRevision, mailiz.current_revision_id)
    assert not mailiz.demo
    assert mailiz.coverage_national
    assert mailiz.mailbox_types == ["PER"]
    assert sorted(mailiz.professions) == ["10", "21", "40", "50", "60", "70", "80"]
    assert mailiz.max_per_professional == 1
    assert revision.price_cents == 0


def test_demo_operators_and_offers_are_varied_and_marked(db_session):
    operators = db_session.exec(select(Operator)).all()
    demo_operators = [o for o in operators if o.demo]
    assert len(demo_operators) >= 8
    assert {"commercial", "regional", "establishment"} <= {o.kind for o in demo_operators}
    offers = db_session.exec(select(Offer)).all()
    assert len(offers) >= 40
    assert all(o.demo for o in offers if o.slug != "mailiz")
    types = Counter(t for o in offers for t in o.mailbox_types)
    assert types["PER"] and types["ORG"] and types["APP"]
    prices = [db_session.get(OfferRevision, o.current_revision_id).price_cents for o in offers]
    assert any(p == 0 for p in prices) and any(p > 0 for p in prices)
    assert count(db_session, SubsidyProgramme) >= 14
    assert any(not o.coverage_national for o in offers)


def test_seeding_twice_changes_nothing(db_session):
    before = {model: count(db_session, model) for model in (Offer, OfferRevision, Operator)}
    report = seed_database(db_session)
    assert not report.changed, report.lines()
    assert {model: count(db_session, model) for model in before} == before


def test_a_changed_price_becomes_a_new_revision(db_session, tmp_path):
    from portal.seed import SEED_DIR

    for path in SEED_DIR.iterdir():
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    offers = (tmp_path / "offers.yaml").read_text(encoding="utf-8")
    import yaml

    data = yaml.safe_load(offers)
    paid = next(entry for entry in data if entry["price"]["amount_cents"] > 0)
    paid["price"]["amount_cents"] += 100
    (tmp_path / "offers.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))

    offer = db_session.exec(select(Offer).where(Offer.slug == paid["slug"])).one()
    old_revision_id = offer.current_revision_id
    seed_database(db_session, tmp_path)
    db_session.refresh(offer)
    assert offer.current_revision_id != old_revision_id
    old = db_session.get(OfferRevision, old_revision_id)
    new = db_session.get(OfferRevision, offer.current_revision_id)
    assert new.price_cents == old.price_cents + 100
    assert new.number == old.number + 1
