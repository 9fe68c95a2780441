"""Placing, reading and cancelling orders (views stay thin and call these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal.accounts.models import Account, Professional
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.db import utcnow
from portal.provisioning.pipeline import request_termination
from portal.regions.models import SubsidyProgramme
from portal.subscriptions import states
from portal.subscriptions.eligibility import check_eligibility
from portal.subscriptions.models import (
    Mailbox,
    Order,
    OrderLine,
    OrderState,
    PaymentMethod,
    Subscription,
)
from portal.subscriptions.quotes import (
    Applicant,
    Quote,
    best_programme,
    compute_quote,
    exhausted_programmes,
    quote_and_reserve,
)
from portal.subscriptions.submission import continue_after_submission

if TYPE_CHECKING:
    from portal.payments.stripe_service import StripePayments


class OrderRefused(Exception):
    """The order cannot be placed; the message says why, in words the person can act on."""


class QuoteChanged(OrderRefused):
    """The price accepted is no longer the price (a programme's last places were taken
    meanwhile): nothing is ordered, the person reads the new quote and decides again."""

    def __init__(self, quote: Quote):
        super().__init__("The quote changed since it was shown.")
        self.quote = quote


@dataclass
class Placed:
    order: Order
    created: bool


def applicant_of(professional: Professional | None, departments) -> Applicant:
    return Applicant(
        department_codes=frozenset(departments or ()),
        profession_code=professional.profession_code if professional else None,
    )


def quote_for(session: Session, offer: Offer, professional: Professional | None, departments):
    """The quote the person would accept now (nothing reserved yet), and its programme."""
    revision = session.get(OfferRevision, offer.current_revision_id)
    terms = best_programme(
        session,
        revision=revision,
        applicant=applicant_of(professional, departments),
        mailboxes=1,
        today=utcnow().date(),
    )
    programme = session.get(SubsidyProgramme, terms.programme_id) if terms else None
    return revision, programme, compute_quote(revision, subsidy=terms)


def programmes_out_of_places(
    session: Session, offer: Offer, professional: Professional | None, departments
) -> list[tuple[SubsidyProgramme, list[str]]]:
    """Programmes the person would get but for their quota or budget (the summary says so)."""
    return exhausted_programmes(
        session,
        revision=session.get(OfferRevision, offer.current_revision_id),
        applicant=applicant_of(professional, departments),
        mailboxes=1,
        today=utcnow().date(),
    )


def place_order(
    session: Session,
    *,
    account: Account,
    professional: Professional | None,
    offer: Offer,
    address: str,
    idempotency_key: str,
    locale: str,
    accepted_quote: str | None,
    replaces_subscription_id: int | None = None,
    contact_email: str | None = None,
) -> Placed:
    """Create and submit the order, once per idempotency key (double submit, second tab…).

    The order is priced again here, with the programme's share reserved in the same
    transaction (see :func:`portal.subscriptions.quotes.quote_and_reserve`). When the price is
    no longer the one the person accepted (``accepted_quote``, the :attr:`Quote.digest` shown
    on the summary; None accepts the current price), :class:`QuoteChanged` is raised and the
    caller rolls back: nothing is ordered and nothing stays reserved.
    """
    existing = find_by_key(session, idempotency_key)
    if existing is not None:
        if existing.account_id != account.id:
            raise OrderRefused("This form was already used by someone else.")
        return Placed(existing, False)
    replaces_order_id = None
    if replaces_subscription_id:
        old = session.get(Subscription, replaces_subscription_id)
        old_order = session.get(Order, old.order_id) if old else None
        if old_order is None or old_order.account_id != account.id:
            raise OrderRefused("The subscription to replace is not yours.")
        replaces_order_id = old_order.id
    eligibility = check_eligibility(
        session, offer, professional, replaces_order_id=replaces_order_id
    )
    if not eligibility.eligible:
        raise OrderRefused(" ".join(eligibility.reasons))
    revision = session.get(OfferRevision, offer.current_revision_id)
    try:
        # The reservation and the order stand or fall together: a concurrent request with the
        # same key rolls both back.
        with session.begin_nested():
            quote = quote_and_reserve(
                session,
                revision=revision,
                applicant=applicant_of(professional, eligibility.department_codes),
                mailboxes=1,
                today=utcnow().date(),
            )
            if accepted_quote is not None and quote.digest != accepted_quote:
                raise QuoteChanged(quote)
            order = Order(
                idempotency_key=idempotency_key,
                account_id=account.id,
                professional_id=professional.id if professional else None,
                offer_revision_id=revision.id,
                programme_id=quote.programme_id,
                quote=quote.to_json(),
                total_cents=quote.first_payment_cents,
                currency=quote.currency,
                payment_method=PaymentMethod.NONE if quote.is_free else PaymentMethod.CARD,
                locale=locale,
                replaces_subscription_id=replaces_subscription_id,
                contact_email=contact_email or None,
            )
            session.add(order)
            session.flush()
    except IntegrityError:
        # Another request with the same key won the race: that order is the one.
        existing = find_by_key(session, idempotency_key)
        if existing is None:
            raise
        return Placed(existing, False)
    session.add(OrderLine(order_id=order.id, position=1, mailbox_type="PER", address=address))
    session.flush()
    actor = f"account:{account.id}"
    states.transition(session, order, OrderState.SUBMITTED, actor=actor, reason="Terms accepted")
    continue_after_submission(session, order, actor="system")
    return Placed(order, True)


def find_by_key(session: Session, key: str) -> Order | None:
    return session.exec(select(Order).where(Order.idempotency_key == key)).first()


def orders_of(session: Session, account: Account) -> list[Order]:
    return list(
        session.exec(select(Order).where(Order.account_id == account.id).order_by(Order.id.desc()))
    )


@dataclass
class OrderView:
    order: Order
    offer: Offer
    operator: Operator
    revision: OfferRevision
    lines: list[OrderLine]
    mailboxes: list[Mailbox]
    quote: Quote | None


def order_view(session: Session, order: Order) -> OrderView:
    revision = session.get(OfferRevision, order.offer_revision_id)
    offer = session.get(Offer, revision.offer_id)
    operator = session.get(Operator, offer.operator_id)
    lines = list(
        session.exec(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position)
        )
    )
    mailboxes = [session.get(Mailbox, line.mailbox_id) for line in lines if line.mailbox_id]
    quote = Quote.from_json(order.quote)
    return OrderView(order, offer, operator, revision, lines, [m for m in mailboxes if m], quote)


def can_cancel(order: Order) -> bool:
    return OrderState(order.state) in states.CANCELLABLE


def can_terminate(order: Order) -> bool:
    return states.can_transition(order, OrderState.TERMINATING)


def cancel_order(
    session: Session,
    order: Order,
    *,
    account: Account,
    payments: StripePayments | None = None,
    actor: str | None = None,
) -> Order:
    """Cancel before anything exists at the operator, or terminate an active mailbox.

    Cancelling gives the order's subsidy back to its programme (the state machine does it).
    An order with a Stripe subscription (paid, or being paid) is cancelled through the payments
    domain with ``payments`` (the Stripe service): the subscription is cancelled at Stripe and
    whatever was paid is refunded, so the order ends ``refunded`` (``cancelled`` when nothing
    was charged). Either way the addresses reserved for the order are freed. ``actor`` names
    who cancels when it is not the holder (payment staff). A :class:`portal.payments.stripe_service.PaymentError` leaves the caller to
    roll back: nothing is cancelled while the money cannot be given back.
    """
    actor = actor or f"account:{account.id}"
    # Under the row lock, so that two cancellations at once cancel (and release) once.
    order = states.lock_order(session, order.id) or order
    if can_cancel(order):
        reason = "Cancelled by the holder"
        if order.stripe_subscription_id:
            from portal.payments.checkout import cancel_and_refund

            cancel_and_refund(session, payments, order.id, actor=actor, reason=reason)
        else:
            states.transition(session, order, OrderState.CANCELLED, actor=actor, reason=reason)
        _free_addresses(session, order)
        return order
    if can_terminate(order):
        request_termination(session, order, actor=actor, reason="Terminated by the holder")
        return order
    raise OrderRefused("This order can no longer be cancelled.")


def _free_addresses(session: Session, order: Order) -> None:
    for line in session.exec(select(OrderLine).where(OrderLine.order_id == order.id)):
        mailbox = session.get(Mailbox, line.mailbox_id) if line.mailbox_id else None
        if mailbox is not None and not mailbox.external_id:
            # Nothing was created at the operator: free the address.
            line.mailbox_id = None
            session.add(line)
            session.flush()
            session.delete(mailbox)
        elif mailbox is not None:
            mailbox.terminated_at = utcnow()
    session.flush()
