"""The order state machine: only the transitions of the design, each one recorded."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.subscriptions import states
from portal.subscriptions.models import OrderEvent, OrderState
from portal.subscriptions.states import FINAL_STATES, TRANSITIONS, IllegalTransition, transition
from tests.factories import make_operator
from tests.provisioning.helpers import make_order

S = OrderState


@pytest.fixture
def order(db_session):
    return make_order(db_session, operator=make_operator(db_session), state=S.DRAFT)


def test_every_state_has_its_transitions_and_labels():
    assert set(TRANSITIONS) == set(S)
    assert set(states.LABELS) == set(S)
    assert set(states.EXPLANATIONS) == set(S)
    assert {S.REJECTED, S.REFUNDED, S.TERMINATED} == FINAL_STATES


def test_the_free_path_records_every_step_with_actor_and_reason(db_session, order):
    transition(db_session, order, S.SUBMITTED, actor="account:3")
    transition(db_session, order, S.PROVISIONING, actor="system", reason="Nothing to pay")
    transition(db_session, order, S.ACTIVE, actor="system", reason="Created")
    events = db_session.exec(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    ).all()
    assert [(e.from_state, e.to_state, e.actor, e.reason) for e in events] == [
        ("draft", "submitted", "account:3", None),
        ("submitted", "provisioning", "system", "Nothing to pay"),
        ("provisioning", "active", "system", "Created"),
    ]
    assert order.state == S.ACTIVE
    assert order.submitted_at is not None


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], S.ACTIVE),  # a draft cannot become active
        ([S.SUBMITTED], S.PAID),  # nothing is paid before payment is asked
        ([S.SUBMITTED, S.AWAITING_APPROVAL, S.REJECTED], S.APPROVED),  # rejected is final
        ([S.SUBMITTED, S.PROVISIONING], S.CANCELLED),  # creation under way: not cancellable
        ([S.SUBMITTED, S.PROVISIONING, S.ACTIVE], S.PROVISIONING),
        ([S.SUBMITTED, S.PROVISIONING, S.ACTIVE, S.TERMINATING, S.TERMINATED], S.ACTIVE),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(db_session, order, path, illegal):
    for state in path:
        transition(db_session, order, state, actor="system")
    before = order.state
    count = len(states.events_of(db_session, order.id))
    with pytest.raises(IllegalTransition):
        transition(db_session, order, illegal, actor="system")
    assert order.state == before
    assert len(states.events_of(db_session, order.id)) == count


def test_needs_attention_keeps_its_reason_until_retried(db_session, order):
    for state in (S.SUBMITTED, S.PROVISIONING):
        transition(db_session, order, state, actor="system")
    transition(db_session, order, S.NEEDS_ATTENTION, actor="system", reason="Refused")
    assert order.attention_reason == "Refused"
    transition(db_session, order, S.PROVISIONING, actor="staff:1", reason="Retried by staff")
    assert order.attention_reason is None
