"""Small builders for test data. Each returns a flushed row with its id."""

from __future__ import annotations

import itertools

from sqlmodel import Session

from portal.accounts.models import Account, Membership, Professional, Structure
from portal.accounts.passwords import hash_password
from portal.catalogue.models import Offer, OfferRevision, OfferStatus, Operator

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


def make_operator(session: Session, **values) -> Operator:
    n = _next()
    operator = Operator(
        slug=values.pop("slug", f"operateur-test-{n}"),
        name=values.pop("name", f"Opérateur test {n}"),
        kind=values.pop("kind", "commercial"),
        mail_domains=values.pop("mail_domains", [f"test{n}.mssante.fr"]),
        **values,
    )
    session.add(operator)
    session.flush()
    return operator


def make_offer(
    session: Session,
    *,
    operator: Operator | None = None,
    price_cents: int = 0,
    features: dict | None = None,
    status: str = OfferStatus.PUBLISHED,
    **values,
) -> Offer:
    n = _next()
    operator = operator or make_operator(session)
    offer = Offer(
        slug=values.pop("slug", f"offre-test-{n}"),
        name=values.pop("name", f"Offre test {n}"),
        operator_id=operator.id,
        mailbox_types=values.pop("mailbox_types", ["PER"]),
        status=status,
        **values,
    )
    session.add(offer)
    session.flush()
    revision = OfferRevision(
        offer_id=offer.id,
        price_cents=price_cents,
        features=features or {},
        summary={"fr": "Résumé", "en": "Summary"},
    )
    session.add(revision)
    session.flush()
    offer.current_revision_id = revision.id
    session.flush()
    return offer


def make_professional(session: Session, **values) -> Professional:
    n = _next()
    rpps = values.pop("rpps", f"{10000000000 + n}")
    professional = Professional(
        idnps=values.pop("idnps", f"8{rpps}"),
        rpps=rpps,
        first_name=values.pop("first_name", "Marie"),
        last_name=values.pop("last_name", f"Durand{n}"),
        profession_code=values.pop("profession_code", "10"),
        **values,
    )
    session.add(professional)
    session.flush()
    return professional


def make_structure(session: Session, **values) -> Structure:
    n = _next()
    structure = Structure(
        name=values.pop("name", f"Pharmacie test {n}"),
        type=values.pop("type", "pharmacie"),
        # 759…: a range the seed does not use (its structures are 750000028 and 750000036).
        finess=values.pop("finess", f"{759000000 + n}"),
        department_code=values.pop("department_code", "75"),
        **values,
    )
    session.add(structure)
    session.flush()
    return structure


def make_account(session: Session, **values) -> Account:
    n = _next()
    account = Account(
        email=values.pop("email", f"agent{n}@example.org"),
        display_name=values.pop("display_name", f"Agent {n}"),
        **values,
    )
    session.add(account)
    session.flush()
    return account


def make_staff(session: Session, email: str, role: str, *, password: str, **scope) -> Account:
    """A staff account signing in with ``password``, with one role in ``scope``
    (region_code=…, operator_id=… or structure_id=…; none for platform admins)."""
    account = Account(email=email, display_name=email, password_hash=hash_password(password))
    session.add(account)
    session.flush()
    session.add(Membership(account_id=account.id, role=role, **scope))
    return account
