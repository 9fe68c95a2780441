"""Paying an order with Stripe, and what payment events do to it.

The page collects a card (3-D Secure included) or a SEPA Direct Debit mandate with Stripe.js
through a SetupIntent (:func:`start_payment`); the server then subscribes the payer to the
offer revision's recurring plan (:func:`complete_payment`). Then:

- card, first invoice paid → ``paid`` → provisioning at once;
- card, the bank asks for authentication of the payment → the page confirms it with Stripe.js,
  then :func:`refresh_payment` reads the outcome;
- card declined → the order stays ``awaiting_payment`` and the payer may give another card;
- SEPA debit → ``payment_pending`` until ``invoice.payment_succeeded`` (→ ``paid`` →
  provisioning) or ``invoice.payment_failed`` (→ ``awaiting_payment``, the payer is told);
- subscription deleted at Stripe → termination (or cancellation if nothing was created yet);
- payment failed on a running subscription → suspension once the grace period is over;
- an order cancelled after payment (e.g. provisioning failed for good) → the subscription is
  cancelled and the payment refunded: the order ends ``refunded``.

Every function re-reads the order under its row lock and acts only from the states where its
event makes sense, so webhooks delivered twice, late or out of order change nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlmodel import Session, select

from portal.accounts.models import Account, Structure
from portal.catalogue.models import Offer, OfferRevision
from portal.db import utcnow
from portal.payments.events import handles
from portal.payments.handlers import order_for_invoice, order_for_subscription
from portal.payments.models import PaymentEvent
from portal.payments.stripe_service import (
    PaymentDeclined,
    PaymentError,
    SetupSession,
    StripePayments,
    period_end,
)
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderLine, OrderState, PaymentMethod
from portal.subscriptions.quotes import subsidy_end

log = logging.getLogger(__name__)

STRIPE = "stripe"
PAYMENT_GRACE_PERIOD = dt.timedelta(days=7)
PAYABLE = (OrderState.AWAITING_PAYMENT, OrderState.PAYMENT_PENDING)
ENDED_SUBSCRIPTION = ("canceled", "incomplete_expired")
INVOICE_OUTCOMES = ("invoice.payment_failed", "invoice.payment_succeeded", "invoice.paid")


class PaymentNotPossible(Exception):
    """The order cannot be paid now (wrong state, or the SetupIntent is not this order's)."""


@dataclass(frozen=True)
class PaymentOutcome:
    """What the page shows after a payment attempt."""

    status: str  # paid | pending | requires_action | declined
    client_secret: str | None = None  # for requires_action
    message: str | None = None  # the bank's reason for declined


# Amounts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecurringTerms:
    plan_id: str
    unit_amount_cents: int  # per mailbox per period, VAT included, subsidy deducted
    interval: str  # month | year
    quantity: int
    setup_fee_cents: int  # whole order, VAT included
    product_name: str


def recurring_terms(session: Session, order: Order, *, subsidised: bool = True) -> RecurringTerms:
    """The Stripe plan and quantity that bill this order's accepted (frozen) quote.

    The quote stored on the order (:mod:`portal.subscriptions.quotes`) decides the amounts: a
    later price change never alters an accepted order. Orders without a stored quote (made
    before quotes existed) are billed from their offer revision. ``subsidised=False``: the
    plan once the subsidy has ended (the quote's price without the subsidy).
    """
    from portal.subscriptions.quotes import vat_of

    revision = session.get(OfferRevision, order.offer_revision_id)
    offer = session.get(Offer, revision.offer_id)
    quote = order.quote or {}
    if "unit_price_cents" in quote:
        quantity = int(quote["mailboxes"])
        unit = int(quote["unit_price_cents"])
        if subsidised:
            unit -= int(quote["subsidy_per_period_cents"])
        setup = int(quote["setup_fee_cents"]) - int(quote["subsidy_setup_cents"])
        vat_rate_bp, interval = int(quote["vat_rate_bp"]), quote["billing_period"]
        currency = str(quote["currency"]).lower()
    else:
        quantity = max(
            len(session.exec(select(OrderLine.id).where(OrderLine.order_id == order.id)).all()),
            1,
        )
        unit, setup = revision.price_cents, revision.setup_fee_cents
        vat_rate_bp, interval = revision.vat_rate_bp, revision.billing_period
        currency = revision.currency.lower()
    unit_ttc = unit + vat_of(unit, vat_rate_bp)
    return RecurringTerms(
        plan_id=f"mssante-rev{revision.id}-{unit_ttc}{currency}-{interval}",
        unit_amount_cents=unit_ttc,
        interval=interval,
        quantity=quantity,
        setup_fee_cents=(setup + vat_of(setup, vat_rate_bp)) * quantity,
        product_name=f"{offer.name} (n° {revision.number})",
    )


def _ensure_plan(service: StripePayments, order: Order, terms: RecurringTerms) -> None:
    """The Stripe plan of ``terms`` exists (created once, found by its id afterwards)."""
    service.ensure_plan(
        plan_id=terms.plan_id,
        amount_cents=terms.unit_amount_cents,
        currency=order.currency,
        interval=terms.interval,
        product_name=terms.product_name,
        metadata={"offer_revision_id": str(order.offer_revision_id)},
    )


# Starting and completing a payment -------------------------------------------------------


def payer_customer_id(session: Session, order: Order) -> str | None:
    """The Customer already used by this payer (the structure, else the person), if any."""
    if order.stripe_customer_id:
        return order.stripe_customer_id
    query = select(Order.stripe_customer_id).where(Order.stripe_customer_id.is_not(None))  # type: ignore[union-attr]
    if order.structure_id:
        query = query.where(Order.structure_id == order.structure_id)
    else:
        query = query.where(Order.account_id == order.account_id, Order.structure_id.is_(None))  # type: ignore[union-attr]
    return session.exec(query.order_by(Order.id.desc())).first()  # type: ignore[union-attr]


def start_payment(
    session: Session, service: StripePayments, order: Order, *, method: str
) -> SetupSession:
    """A SetupIntent for the page to collect ``method`` (card or sepa_debit) for ``order``."""
    if order.state != OrderState.AWAITING_PAYMENT:
        raise PaymentNotPossible("the order is not awaiting payment")
    account = session.get(Account, order.account_id)
    name = account.display_name if account else ""
    if order.structure_id:
        name = session.get(Structure, order.structure_id).name
    customer = service.ensure_customer(
        customer_id=payer_customer_id(session, order),
        email=order.contact_address(account),
        name=name,
        metadata={
            "account_id": str(order.account_id),
            "structure_id": str(order.structure_id or ""),
        },
    )
    if order.stripe_customer_id != customer:
        # Nothing is pending here; end the read begun before the call to Stripe, so that on
        # SQLite the write starts from a fresh snapshot (and waits for the lock) instead of
        # failing with "database is locked" when someone else committed meanwhile.
        session.commit()
        order.stripe_customer_id = customer
        session.add(order)
    return service.create_setup_intent(
        customer_id=customer, method=method, metadata={"order_id": str(order.id)}
    )


def complete_payment(
    session: Session, service: StripePayments, order_id: int, *, setup_intent_id: str
) -> PaymentOutcome:
    """The page confirmed a SetupIntent: subscribe (or retry the open invoice) and apply."""
    order = states.lock_order(session, order_id)
    if order is None:
        raise PaymentNotPossible("no such order")
    if order.state == OrderState.PAYMENT_PENDING:
        return PaymentOutcome("pending")
    if order.state != OrderState.AWAITING_PAYMENT:
        return PaymentOutcome("paid")  # already moved on (a webhook was faster, or a refresh)
    intent = service.retrieve_setup_intent(setup_intent_id)
    if intent.get("customer") != order.stripe_customer_id or (intent.get("metadata") or {}).get(
        "order_id"
    ) != str(order.id):
        raise PaymentNotPossible("the setup intent belongs to another order")
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        return PaymentOutcome("declined", message=_last_setup_error(intent))
    payment_method_id = _id(intent["payment_method"])
    method = service.retrieve_payment_method(payment_method_id)
    service.set_default_payment_method(
        customer_id=order.stripe_customer_id, payment_method_id=payment_method_id
    )
    order.payment_method = (
        PaymentMethod.SEPA_DEBIT if method.get("type") == "sepa_debit" else PaymentMethod.CARD
    )
    session.add(order)
    subscription = (
        service.retrieve_subscription(order.stripe_subscription_id)
        if order.stripe_subscription_id
        else None
    )
    if subscription is not None and subscription.get("status") not in ENDED_SUBSCRIPTION:
        # A second try after a declined card: pay the subscription's open invoice again.
        invoice = subscription.get("latest_invoice") or {}
        if invoice.get("status") == "open":
            try:
                invoice = service.pay_invoice(invoice["id"])
            except PaymentDeclined as error:
                return PaymentOutcome("declined", message=str(error))
    else:
        # First try, or the previous subscription ended (a failed debit cancels it): a new one.
        terms = recurring_terms(session, order)
        _ensure_plan(service, order, terms)
        if terms.setup_fee_cents:
            service.add_one_off_charge(
                customer_id=order.stripe_customer_id,
                amount_cents=terms.setup_fee_cents,
                currency=order.currency,
                description=f"Setup fee, order {order.id}",
            )
        subscription = service.create_subscription(
            customer_id=order.stripe_customer_id,
            plan_id=terms.plan_id,
            quantity=terms.quantity,
            metadata={"order_id": str(order.id)},
            idempotency_key=f"order-{order.id}-subscription-{setup_intent_id}",
        )
        order.stripe_subscription_id = subscription["id"]
        started = dt.datetime.fromtimestamp(
            int(subscription.get("start_date") or utcnow().timestamp()), dt.UTC
        )
        order.subsidy_ends_at = subsidy_end(order.quote, started)
        session.add(order)
        invoice = subscription.get("latest_invoice") or {}
    return _apply_invoice_state(session, service, order, invoice)


def refresh_payment(session: Session, service: StripePayments, order_id: int) -> PaymentOutcome:
    """Read the first invoice again (after the payer authenticated the payment in the page)."""
    order = states.lock_order(session, order_id)
    if order is None or not order.stripe_subscription_id:
        raise PaymentNotPossible("the order has no subscription yet")
    if order.state not in PAYABLE:
        return PaymentOutcome("paid")
    if order.state == OrderState.PAYMENT_PENDING:
        return PaymentOutcome("pending")
    subscription = service.retrieve_subscription(order.stripe_subscription_id)
    return _apply_invoice_state(session, service, order, subscription.get("latest_invoice") or {})


def _apply_invoice_state(
    session: Session, service: StripePayments, order: Order, invoice: dict
) -> PaymentOutcome:
    if order.payment_method == PaymentMethod.SEPA_DEBIT:
        # A debit is only certain days later: wait for Stripe's invoice.payment_succeeded.
        if order.state == OrderState.AWAITING_PAYMENT:
            states.transition(
                session,
                order,
                OrderState.PAYMENT_PENDING,
                actor=STRIPE,
                reason="SEPA Direct Debit mandate signed; waiting for the debit",
            )
        return PaymentOutcome("pending")
    if invoice.get("status") == "paid":
        mark_paid(session, order, reason="Card payment accepted")
        return PaymentOutcome("paid")
    payment = service.invoice_payment(invoice) if invoice else None
    if payment and payment.get("status") == "requires_action":
        return PaymentOutcome("requires_action", client_secret=payment.get("client_secret"))
    message = None
    if payment:
        message = (payment.get("last_payment_error") or {}).get("message")
    return PaymentOutcome("declined", message=message)


def _last_setup_error(intent: dict) -> str | None:
    return (intent.get("last_setup_error") or {}).get("message")


def _id(value: object) -> str:
    return value if isinstance(value, str) else value["id"]  # type: ignore[index]


# State changes shared by the page and the webhooks --------------------------------------


def mark_paid(session: Session, order: Order, *, reason: str, actor: str = STRIPE) -> bool:
    """``awaiting_payment``/``payment_pending`` → ``paid`` → provisioning. False if not payable."""
    from portal.subscriptions.submission import continue_after_submission

    if order.state not in PAYABLE:
        return False
    states.transition(session, order, OrderState.PAID, actor=actor, reason=reason)
    continue_after_submission(session, order, actor=actor)
    return True


def cancel_and_refund(
    session: Session, service: StripePayments | None, order_id: int, *, actor: str, reason: str
) -> Order:
    """Cancel an order that never became a working mailbox, and give the money back.

    Used when provisioning failed for good after payment, and by the payer before any charge.
    The subscription is cancelled first, so nothing more is ever charged; whatever was paid is
    refunded, and the order ends ``refunded`` (``cancelled`` when nothing was paid).
    """
    order = states.lock_order(session, order_id)
    if order is None:
        raise PaymentNotPossible("no such order")
    if order.state == OrderState.REFUNDED:
        return order
    if order.state != OrderState.CANCELLED:
        if not states.can_transition(order, OrderState.CANCELLED):
            raise PaymentNotPossible(f"an order in state {order.state} cannot be cancelled")
        states.transition(session, order, OrderState.CANCELLED, actor=actor, reason=reason)
    refund_cancelled_order(session, service, order)
    return order


def refund_cancelled_order(session: Session, service: StripePayments | None, order: Order) -> bool:
    """Cancel the subscription of a cancelled order and refund what was paid. Safe to repeat."""
    if order.state != OrderState.CANCELLED or not order.stripe_subscription_id:
        return False
    if service is None:
        raise PaymentError("Stripe is not configured; the refund cannot be made", code="disabled")
    subscription = service.retrieve_subscription(order.stripe_subscription_id)
    if subscription.get("status") not in ENDED_SUBSCRIPTION:
        service.cancel_subscription(order.stripe_subscription_id)
    invoice = subscription.get("latest_invoice") or {}
    if invoice.get("status") != "paid" or not invoice.get("amount_paid"):
        return False  # cancelled before any charge: nothing to give back
    refunds = service.refund_invoice(invoice, idempotency_key=f"order-{order.id}-refund")
    if not refunds:
        return False
    amount = sum(refund["amount"] for refund in refunds)
    cancellation = order.attention_reason or ""  # what went wrong, as the person saw it
    states.transition(
        session,
        order,
        OrderState.REFUNDED,
        actor=STRIPE,
        reason=f"Refunded {amount} cents ({', '.join(r['id'] for r in refunds)})",
    )
    _tell_payer_refunded(session, order, amount, cancellation)
    return True


# Webhook handlers ---------------------------------------------------------------------


def _locked(session: Session, order: Order | None) -> Order | None:
    return states.lock_order(session, order.id) if order is not None else None


@handles("invoice.payment_succeeded", "invoice.paid")
def invoice_paid(session: Session, row: PaymentEvent, invoice: dict) -> bool:
    order = _locked(session, order_for_invoice(session, invoice))
    if order is None:
        return False  # the subscription is not linked yet: try again when it is
    row.order_id = order.id
    if order.state in PAYABLE:
        mark_paid(session, order, reason=f"Stripe invoice {invoice.get('id')} paid")
    elif order.state == OrderState.SUSPENDED:
        from portal.payments.suspension import resume_order

        resume_order(session, order, reason=f"Overdue Stripe invoice {invoice.get('id')} paid")
    elif order.state == OrderState.CANCELLED and order.stripe_subscription_id:
        # The debit went through after the order was cancelled: give it back.
        from portal.payments import stripe_payments

        refund_cancelled_order(session, stripe_payments(), order)
    return True


@handles("invoice.payment_failed")
def invoice_payment_failed(session: Session, row: PaymentEvent, invoice: dict) -> bool:
    order = _locked(session, order_for_invoice(session, invoice))
    if order is None:
        return False
    row.order_id = order.id
    if order.state == OrderState.PAYMENT_PENDING:
        states.transition(
            session,
            order,
            OrderState.AWAITING_PAYMENT,
            actor=STRIPE,
            reason="The direct debit failed",
        )
    session.flush()
    latest = latest_invoice_outcome(session, order.id)
    if order.state in (OrderState.AWAITING_PAYMENT, OrderState.ACTIVE) and latest is row:
        _tell_payer_payment_failed(session, order, row)
    return True


def _payer(session: Session, order: Order) -> Account | None:
    return session.get(Account, order.account_id)


def _offer_name(session: Session, order: Order) -> str:
    revision = session.get(OfferRevision, order.offer_revision_id)
    return session.get(Offer, revision.offer_id).name


def _tell_payer_payment_failed(session: Session, order: Order, row: PaymentEvent) -> None:
    _tell_payer(
        session,
        order,
        template="payment_failed",
        dedup_key=f"payment-failed:{row.stripe_event_id}",
        context={
            "active": order.state == OrderState.ACTIVE,
            "grace_days": PAYMENT_GRACE_PERIOD.days,
            "payment_url": _portal_url(f"/commandes/{order.id}/paiement"),
        },
    )


def _tell_payer_refunded(session: Session, order: Order, amount_cents: int, reason: str) -> None:
    from portal.money import format_money

    _tell_payer(
        session,
        order,
        template="order_refunded",
        dedup_key=f"order-refunded:{order.id}",
        context={
            "amount": format_money(amount_cents, order.currency, order.locale),
            "reason": reason,
            "order_url": _portal_url(f"/commandes/{order.id}"),
        },
    )


def _tell_payer(
    session: Session, order: Order, *, template: str, dedup_key: str, context: dict
) -> None:
    """E-mail the order's payer, when they have an address, about the order's payment."""
    from portal.mail import queue_email
    from portal.payments.purchase_orders import order_reference

    account = _payer(session, order)
    to = order.contact_address(account)
    if account is None or not to:
        return
    queue_email(
        session,
        to=to,
        template=template,
        context={
            "name": account.display_name,
            "reference": order_reference(order),
            "offer_name": _offer_name(session, order),
            **context,
        },
        locale=order.locale,
        dedup_key=dedup_key,
    )


def _portal_url(path: str) -> str:
    from flask import current_app

    return current_app.config["PORTAL_SETTINGS"].public_url.rstrip("/") + path


@handles("customer.subscription.deleted")
def subscription_deleted(session: Session, row: PaymentEvent, subscription: dict) -> bool:
    from portal.provisioning.pipeline import request_termination

    order = _locked(session, order_for_subscription(session, subscription.get("id")))
    if order is None:
        return True  # not one of ours, or already forgotten
    row.order_id = order.id
    reason = "The Stripe subscription ended"
    if order.state in (OrderState.ACTIVE, OrderState.SUSPENDED):
        request_termination(session, order, actor=STRIPE, reason=reason)
    elif order.state == OrderState.PAYMENT_PENDING:
        # A failed first debit ends the subscription: the payer may pay again another way.
        states.transition(session, order, OrderState.AWAITING_PAYMENT, actor=STRIPE, reason=reason)
    return True


def latest_invoice_outcome(session: Session, order_id: int) -> PaymentEvent | None:
    """The most recent payment outcome Stripe reported for the order, by Stripe's own clock.

    Arrival order is not enough: a failure of an earlier attempt may arrive after the success
    of a later one. Within the same second a success counts as the later event.
    """
    rows = session.exec(
        select(PaymentEvent)
        .where(PaymentEvent.order_id == order_id)
        .where(PaymentEvent.type.in_(INVOICE_OUTCOMES))  # type: ignore[attr-defined]
    ).all()
    if not rows:
        return None
    return max(
        rows,
        key=lambda row: (
            int(row.payload.get("created") or 0),
            row.type != "invoice.payment_failed",
            row.id,
        ),
    )


def last_payment_failed(session: Session, order: Order) -> bool:
    """Whether the latest payment Stripe reported for this order failed (the payer is told)."""
    latest = latest_invoice_outcome(session, order.id)
    return latest is not None and latest.type == "invoice.payment_failed"


def suspend_overdue_orders(session: Session, *, now: dt.datetime | None = None) -> list[int]:
    """Suspend active orders whose renewal stayed unpaid for longer than the grace period."""
    now = now or utcnow()
    candidates = session.exec(
        select(PaymentEvent.order_id)
        .join(Order, Order.id == PaymentEvent.order_id)
        .where(Order.state == OrderState.ACTIVE)
        .where(PaymentEvent.type == "invoice.payment_failed")
        .where(PaymentEvent.received_at <= now - PAYMENT_GRACE_PERIOD)
        .distinct()
    ).all()
    suspended: list[int] = []
    for order_id in candidates:
        order = states.lock_order(session, order_id)
        if order is None or order.state != OrderState.ACTIVE:
            continue
        latest = latest_invoice_outcome(session, order.id)
        if (
            latest is not None
            and latest.type == "invoice.payment_failed"
            and latest.received_at <= now - PAYMENT_GRACE_PERIOD
        ):
            from portal.payments.suspension import suspend_order

            suspend_order(session, order, reason="Renewal unpaid after the grace period")
            suspended.append(order.id)
    return suspended


# The end of a subsidy for a limited time ------------------------------------------------------

# Stripe's period ends and the portal's month arithmetic may differ by a few hours.
PERIOD_TOLERANCE = dt.timedelta(days=1)
BILLING_PERIODS = {"month": dt.timedelta(days=31), "year": dt.timedelta(days=366)}


def end_subsidised_prices(
    session: Session, service: StripePayments | None, *, now: dt.datetime | None = None
) -> list[int]:
    """Tell Stripe to bill the full price after the last subsidised period of each order.

    Runs with the payments housekeeping. During an order's last subsidised billing period
    (its Stripe period ends when the subsidy does), a full-price subscription is set to start
    at the end of that period and the subsidised one to end then, so the region pays exactly
    the months it decided and nothing is prorated. Safe to repeat: ``full_price_from`` records
    it, and the Stripe steps are found again if the answer was lost. Returns the order ids.
    """
    if service is None:
        return []
    now = now or utcnow()
    due = session.exec(
        select(Order.id)
        .where(Order.subsidy_ends_at.is_not(None))  # type: ignore[union-attr]
        .where(Order.subsidy_ends_at <= now + BILLING_PERIODS["year"])
        .where(Order.full_price_from.is_(None))  # type: ignore[union-attr]
        .where(Order.stripe_subscription_id.is_not(None))  # type: ignore[union-attr]
        .where(Order.state.in_((OrderState.ACTIVE, OrderState.SUSPENDED)))  # type: ignore[attr-defined]
        .order_by(Order.subsidy_ends_at)
        .limit(200)
    ).all()
    switched: list[int] = []
    for order_id in due:
        order = states.lock_order(session, order_id)
        if order is None or order.full_price_from is not None or not order.subsidy_ends_at:
            continue
        period = BILLING_PERIODS.get(
            (order.quote or {}).get("billing_period"), BILLING_PERIODS["month"]
        )
        if order.subsidy_ends_at - period > now:
            continue  # not the last subsidised period yet
        subscription = service.retrieve_subscription(order.stripe_subscription_id)
        ends = period_end(subscription)
        if subscription.get("status") in ENDED_SUBSCRIPTION or ends is None:
            continue
        current_end = dt.datetime.fromtimestamp(ends, dt.UTC)
        if current_end < order.subsidy_ends_at - PERIOD_TOLERANCE:
            continue
        terms = recurring_terms(session, order, subsidised=False)
        _ensure_plan(service, order, terms)
        successor = service.continue_at_full_price(
            subscription_id=order.stripe_subscription_id,
            plan_id=terms.plan_id,
            quantity=terms.quantity,
            metadata={"order_id": str(order.id)},
            idempotency_key=f"order-{order.id}-full-price",
        )
        log.info(
            "subsidy ends: full price from the next period",
            extra={"order_id": order.id, "subscription": successor["id"]},
        )
        order.stripe_subscription_id = successor["id"]
        order.full_price_from = current_end
        session.add(order)
        _tell_payer_full_price(session, order, current_end, terms)
        switched.append(order.id)
    return switched


def _tell_payer_full_price(
    session: Session, order: Order, starts: dt.datetime, terms: RecurringTerms
) -> None:
    """Before the first full-price charge: when it comes, how much, and how to stop it."""
    from babel.dates import format_date

    from portal.money import format_money

    _tell_payer(
        session,
        order,
        template="subsidy_ending",
        dedup_key=f"subsidy-ending:{order.id}",
        context={
            "starts_on": format_date(starts.date(), format="long", locale=order.locale),
            "amount": format_money(
                terms.unit_amount_cents * terms.quantity, order.currency, order.locale
            ),
            "yearly": terms.interval == "year",
            "order_url": _portal_url(f"/commandes/{order.id}"),
        },
    )


# Reconciliation: a lost webhook delays a payment, never loses it ---------------------------

RECONCILE_AFTER = dt.timedelta(minutes=10)
RECONCILE_WINDOW = dt.timedelta(days=30)


def reconcile_payments(
    session: Session, service: StripePayments | None, *, now: dt.datetime | None = None
) -> list[int]:
    """Ask Stripe about orders waiting for a payment longer than :data:`RECONCILE_AFTER`.

    Webhooks can be lost (an outage on our side longer than Stripe's retries, a misconfigured
    endpoint). Stripe's own record decides: a paid first invoice moves the order on, a
    subscription created by a request whose answer never reached us is linked back to its
    order through its metadata. Returns the ids of the orders moved on.
    """
    if service is None:
        return []
    now = now or utcnow()
    waiting = session.exec(
        select(Order.id)
        .where(Order.state.in_(PAYABLE))  # type: ignore[attr-defined]
        .where(Order.stripe_customer_id.is_not(None))  # type: ignore[union-attr]
        .where(Order.state_changed_at < now - RECONCILE_AFTER)
        .where(Order.state_changed_at > now - RECONCILE_WINDOW)
        .order_by(Order.id)
        .limit(200)
    ).all()
    moved: list[int] = []
    for order_id in waiting:
        order = states.lock_order(session, order_id)
        if order is None or order.state not in PAYABLE:
            continue
        if not order.stripe_subscription_id:
            order.stripe_subscription_id = service.find_subscription_for(
                customer_id=order.stripe_customer_id, order_id=order.id
            )
            if not order.stripe_subscription_id:
                continue
            session.add(order)
        subscription = service.retrieve_subscription(order.stripe_subscription_id)
        invoice = subscription.get("latest_invoice") or {}
        if invoice.get("status") == "paid" and mark_paid(
            session, order, reason=f"Stripe invoice {invoice.get('id')} found paid"
        ):
            moved.append(order.id)
    return moved
