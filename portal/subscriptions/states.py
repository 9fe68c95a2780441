"""The order state machine: the only module that changes ``Order.state``.

Every change goes through :func:`transition`, which refuses what the diagram does not allow
(:class:`IllegalTransition`) and writes an :class:`OrderEvent` with who did it and why::

    draft → submitted ─┬─► awaiting_approval ─► approved ─┐          (rejected: final)
                       └──────────────────────────────────┴─► awaiting_payment ─► payment_pending
                              ─► paid ─► provisioning; free or subsidised-to-zero orders skip payment
    provisioning ─► active | needs_attention ─► provisioning (retry) | cancelled (─► refunded)
    active ─► suspended ─► active ;  active|suspended ─► terminating ─► terminated

An order that ends without a mailbox (``rejected``, ``cancelled``, hence ``refunded``) gives
its subsidy back to the programme's quota and budget in the same transaction, once.

Actors are strings: ``account:<id>`` (a person), ``system`` (the pipeline, the reconciler),
``operator:<slug>`` (an operator's callback), ``staff:<account id>`` (back-office staff).
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from portal.db import utcnow
from portal.subscriptions.models import Order, OrderEvent
from portal.subscriptions.models import OrderState as S
from portal.subscriptions.quotes import release_order_subsidy

TRANSITIONS: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.AWAITING_APPROVAL, S.AWAITING_PAYMENT, S.PROVISIONING, S.CANCELLED}),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.AWAITING_PAYMENT, S.PROVISIONING, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.PAYMENT_PENDING, S.PAID, S.CANCELLED}),
    S.PAYMENT_PENDING: frozenset({S.PAID, S.AWAITING_PAYMENT, S.CANCELLED}),
    S.PAID: frozenset({S.PROVISIONING, S.CANCELLED}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.PROVISIONING, S.CANCELLED}),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.TERMINATING}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.TERMINATING}),
    S.TERMINATING: frozenset({S.TERMINATED}),
    S.REJECTED: frozenset(),
    S.REFUNDED: frozenset(),
    S.TERMINATED: frozenset(),
}
# Entering one of these states ends the order without a mailbox: its subsidy is given back.
ENDED_WITHOUT_MAILBOX = frozenset({S.REJECTED, S.CANCELLED})
FINAL_STATES = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
# States the person can still cancel from (nothing exists at the operator yet).
CANCELLABLE = frozenset(
    {S.DRAFT, S.SUBMITTED, S.AWAITING_APPROVAL, S.APPROVED, S.AWAITING_PAYMENT,
     S.PAYMENT_PENDING, S.NEEDS_ATTENTION}
)  # fmt: skip
# How long an order may sit in a state handled by background work before the reconciler
# hands it to the workers again (a lost job or a killed worker only delays it).
DEADLINES: dict[S, dt.timedelta] = {
    S.SUBMITTED: dt.timedelta(minutes=5),
    S.APPROVED: dt.timedelta(minutes=5),
    S.PAID: dt.timedelta(minutes=5),
    S.PROVISIONING: dt.timedelta(minutes=5),
    S.TERMINATING: dt.timedelta(minutes=15),
}

LABELS: dict[S, object] = {
    S.DRAFT: _l("Brouillon"),
    S.SUBMITTED: _l("Commande envoyée"),
    S.AWAITING_APPROVAL: _l("En attente de validation"),
    S.APPROVED: _l("Validée"),
    S.REJECTED: _l("Refusée"),
    S.AWAITING_PAYMENT: _l("En attente de paiement"),
    S.PAYMENT_PENDING: _l("Paiement en cours"),
    S.PAID: _l("Payée"),
    S.PROVISIONING: _l("Création de la boîte en cours"),
    S.ACTIVE: _l("Boîte active"),
    S.NEEDS_ATTENTION: _l("Action nécessaire"),
    S.CANCELLED: _l("Annulée"),
    S.REFUNDED: _l("Remboursée"),
    S.SUSPENDED: _l("Suspendue"),
    S.TERMINATING: _l("Résiliation en cours"),
    S.TERMINATED: _l("Résiliée"),
}

EXPLANATIONS: dict[S, object] = {
    S.DRAFT: _l("La commande n'est pas encore envoyée."),
    S.SUBMITTED: _l("Votre commande est enregistrée ; la suite démarre dans un instant."),
    S.AWAITING_APPROVAL: _l(
        "Le programme de financement demande une validation par la région ou la structure. "
        "Vous recevrez un e-mail dès la décision."
    ),
    S.APPROVED: _l("La commande est validée ; la création de la boîte va démarrer."),
    S.REJECTED: _l("La commande a été refusée. Le motif est indiqué ci-dessous."),
    S.AWAITING_PAYMENT: _l(
        "La commande attend le paiement. La boîte sera créée dès le paiement reçu."
    ),
    S.PAYMENT_PENDING: _l("Le paiement est en cours de traitement par la banque."),
    S.PAID: _l("Le paiement est reçu ; la création de la boîte va démarrer."),
    S.PROVISIONING: _l(
        "L'opérateur crée votre boîte et nous l'inscrivons dans l'annuaire. "
        "Cela prend en général moins d'une minute ; cette page se met à jour seule."
    ),
    S.ACTIVE: _l(
        "Votre boîte est ouverte et inscrite dans l'annuaire. Un e-mail vous indique comment "
        "vous connecter."
    ),
    S.NEEDS_ATTENTION: _l(
        "La création n'a pas pu aboutir. Le motif est indiqué ci-dessous : l'équipe de "
        "l'opérateur est prévenue, et vous pouvez annuler la commande."
    ),
    S.CANCELLED: _l("La commande est annulée ; rien n'a été créé chez l'opérateur."),
    S.REFUNDED: _l("La commande est annulée et remboursée."),
    S.SUSPENDED: _l("La boîte est suspendue : elle ne reçoit ni n'envoie de messages."),
    S.TERMINATING: _l("La résiliation est transmise à l'opérateur."),
    S.TERMINATED: _l("La boîte est résiliée et retirée de l'annuaire."),
}


class IllegalTransition(Exception):
    """The diagram does not allow this change (the order stays as it was)."""

    def __init__(self, order: Order, to_state: S):
        super().__init__(f"order {order.id}: {order.state} → {to_state} is not allowed")
        self.from_state = order.state
        self.to_state = to_state


def can_transition(order: Order, to_state: S | str) -> bool:
    return S(to_state) in TRANSITIONS[S(order.state)]


def transition(
    session: Session,
    order: Order,
    to_state: S | str,
    *,
    actor: str,
    reason: str | None = None,
) -> OrderEvent:
    """Move ``order`` to ``to_state`` and record it. The caller holds the order's row lock."""
    to_state = S(to_state)
    if not can_transition(order, to_state):
        raise IllegalTransition(order, to_state)
    now = utcnow()
    event = OrderEvent(
        order_id=order.id,
        from_state=order.state,
        to_state=to_state,
        actor=actor,
        reason=reason,
        created_at=now,
    )
    order.state = to_state
    order.state_changed_at = now
    if to_state == S.SUBMITTED:
        order.submitted_at = now
    if to_state == S.NEEDS_ATTENTION:
        order.attention_reason = reason
    elif to_state == S.PROVISIONING:
        order.attention_reason = None
    session.add(order)
    session.add(event)
    if to_state in ENDED_WITHOUT_MAILBOX:
        release_order_subsidy(session, order)
    session.flush()
    return event


def lock_order(session: Session, order_id: int) -> Order | None:
    """Load an order for update: concurrent workers change it one at a time (PostgreSQL)."""
    return session.exec(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def events_of(session: Session, order_id: int) -> list[OrderEvent]:
    return list(
        session.exec(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
    )


def label(state: S | str) -> str:
    return str(LABELS[S(state)])


def explanation(state: S | str) -> str:
    return str(EXPLANATIONS[S(state)])


def check_path(from_state: S | str, path: list[S]) -> None:
    """Check that the diagram allows ``from_state → path[0] → path[1] …`` (for orders created
    in bulk, whose history is written in one batch); raises ValueError otherwise."""
    current = S(from_state)
    for step in path:
        if S(step) not in TRANSITIONS[current]:
            raise ValueError(f"{current} → {step} is not allowed")
        current = S(step)
