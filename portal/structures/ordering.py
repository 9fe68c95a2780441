"""A structure's manager orders organisational (ORG) or applicative (APP) mailboxes.

One order holds one line per mailbox, each with its service, description, responsible person
and the people allowed to use it. The best regional programme the structure is eligible for
is applied and its quota reserved in the same transaction; the order then follows the state
machine: approval when the programme asks for it or when the orderer's Pro Santé Connect
activities do not list the structure (:mod:`portal.structures.approvals`), payment when
something is left to pay, otherwise straight to provisioning.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Account, Structure
from portal.accounts.policy import works_in
from portal.catalogue.models import (
    Department,
    Offer,
    OfferRevision,
    OfferStatus,
    Operator,
)
from portal.db import utcnow
from portal.subscriptions import quotes
from portal.subscriptions.models import Mailbox, Order, OrderLine, OrderState, PaymentMethod

MAX_MAILBOXES = 10
LOCAL_PART = re.compile(r"[a-z0-9](?:[a-z0-9.\-]{0,62}[a-z0-9])?")


class OrderInputError(Exception):
    """The order as typed cannot be placed; ``errors`` maps fields to sentences."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class MailboxWish:
    kind: str  # ORG | APP
    local_part: str
    service: str
    description: str
    responsible: str
    users: list[dict] = field(default_factory=list)


def slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40].strip("-")


def offers_for(session: Session, structure: Structure) -> list[Offer]:
    """Published offers with shared mailboxes that this structure may subscribe to."""
    region = (
        session.get(Department, structure.department_code).region_code
        if structure.department_code and session.get(Department, structure.department_code)
        else None
    )
    offers = session.exec(
        select(Offer).where(Offer.status == OfferStatus.PUBLISHED).order_by(Offer.name)
    ).all()
    return [
        offer
        for offer in offers
        if {"ORG", "APP"} & set(offer.mailbox_types)
        and (not offer.structure_types or structure.type in offer.structure_types)
        and (
            offer.coverage_national
            or (region and region in offer.coverage_regions)
            or structure.department_code in offer.coverage_departments
        )
    ]


def address_proposals(structure: Structure, operator: Operator, service: str) -> list[str]:
    """Addresses built from the structure's name (and town), for the given service."""
    if not operator.mail_domains:
        return []
    domain = operator.mail_domains[0]
    name = slug(structure.trade_name or structure.name) or "structure"
    service_part = slug(service) or "contact"
    proposals = [f"{service_part}.{name}@{domain}", f"{name}.{service_part}@{domain}"]
    if structure.city:
        proposals.append(f"{service_part}.{name}-{slug(structure.city)}@{domain}")
    return proposals


def parse_users(text: str) -> tuple[list[dict], list[str]]:
    """``Name ; e-mail ; RPPS`` one person per line (RPPS optional)."""
    users, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.replace(",", ";").split(";")]
        name = parts[0] if parts else ""
        email = parts[1] if len(parts) > 1 else ""
        rpps = parts[2] if len(parts) > 2 else ""
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            problems.append(
                _(
                    "Ligne %(n)d des utilisateurs : écrivez « Prénom Nom ; adresse e-mail ».",
                    n=number,
                )
            )
            continue
        if not name or (rpps and not (rpps.isdigit() and len(rpps) == 11)):
            problems.append(
                _(
                    "Ligne %(n)d des utilisateurs : un nom, puis l’e-mail, puis éventuellement le RPPS (11 chiffres).",
                    n=number,
                )
            )
            continue
        users.append({"name": name, "email": email, "rpps": rpps or None, "role": "user"})
    return users, problems


def place_org_order(
    *,
    session: Session,
    account: Account,
    structure: Structure,
    offer: Offer,
    wishes: list[MailboxWish],
    idempotency_key: str,
    locale: str = "fr",
) -> Order:
    """Validate and place the order (the caller commits). A repeated key returns the first order."""
    from portal.structures import approvals
    from portal.subscriptions import states
    from portal.subscriptions.submission import continue_after_submission

    existing = session.exec(select(Order).where(Order.idempotency_key == idempotency_key)).first()
    if existing is not None:
        return existing
    operator = session.get(Operator, offer.operator_id)
    revision = session.get(OfferRevision, offer.current_revision_id)
    errors: dict[str, str] = {}
    if offer.id not in {o.id for o in offers_for(session, structure)} or revision is None:
        errors["offer"] = _("Cette offre n’est pas proposée à votre structure.")
    if not wishes:
        errors["mailboxes"] = _("Décrivez au moins une boîte aux lettres.")
    if len(wishes) > MAX_MAILBOXES:
        errors["mailboxes"] = _("Au plus %(max)d boîtes par commande.", max=MAX_MAILBOXES)
    addresses = []
    for index, wish in enumerate(wishes, start=1):
        if wish.kind not in offer.mailbox_types or wish.kind not in ("ORG", "APP"):
            errors[f"kind-{index}"] = _("Cette offre ne propose pas ce type de boîte.")
        if not LOCAL_PART.fullmatch(wish.local_part):
            errors[f"local-{index}"] = _(
                "Début d’adresse invalide : lettres minuscules sans accent, chiffres, points et tirets."
            )
            continue
        address = f"{wish.local_part}@{operator.mail_domains[0]}" if operator.mail_domains else ""
        taken = session.exec(select(Mailbox.id).where(Mailbox.address == address)).first() or (
            session.exec(
                select(OrderLine.id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(
                    OrderLine.address == address,
                    Order.state.not_in(["rejected", "cancelled", "refunded", "terminated"]),
                )
            ).first()
        )
        if taken or address in addresses:
            errors[f"local-{index}"] = _("L’adresse %(address)s est déjà prise.", address=address)
        addresses.append(address)
        if not wish.service:
            errors[f"service-{index}"] = _(
                "Indiquez le service de la boîte, par exemple Secrétariat."
            )
        if not wish.responsible:
            errors[f"responsible-{index}"] = _("Indiquez la personne responsable de la boîte.")
    if errors:
        raise OrderInputError(errors)

    quote = quotes.quote_and_reserve(
        session,
        revision=revision,
        applicant=quotes.Applicant.for_structure(structure),
        mailboxes=len(wishes),
        today=utcnow().date(),
    )
    order = Order(
        idempotency_key=idempotency_key,
        account_id=account.id,
        professional_id=account.professional_id,
        structure_id=structure.id,
        offer_revision_id=revision.id,
        programme_id=quote.programme_id,
        state=OrderState.DRAFT,
        quote=quote.to_json(),
        total_cents=quote.first_payment_cents,
        payment_method=PaymentMethod.NONE if quote.is_free else PaymentMethod.CARD,
        locale=locale,
    )
    session.add(order)
    session.flush()
    for position, (wish, address) in enumerate(zip(wishes, addresses, strict=True), start=1):
        session.add(
            OrderLine(
                order_id=order.id,
                position=position,
                mailbox_type=wish.kind,
                address=address,
                description=wish.description or None,
                service=wish.service,
                responsible=wish.responsible,
                users=wish.users,
            )
        )
    actor = f"account:{account.id}"
    states.transition(session, order, OrderState.SUBMITTED, actor=actor)
    if works_in(session, account, structure.id):
        continue_after_submission(session, order, actor=actor)
    else:
        # Not in the structure's PSC activities: the region or another manager decides.
        approvals.send_for_approval(session, order, actor=actor)
    return order
