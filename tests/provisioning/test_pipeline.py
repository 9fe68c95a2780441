"""The pipeline against the reference operator over HTTP: one mailbox, whatever happens."""

from __future__ import annotations

import socket

import pytest
from sqlmodel import select

from portal import queue
from portal.directory.models import DirectoryEntry
from portal.mail.models import OutboxMessage
from portal.provisioning.models import ProvisioningAttempt
from portal.provisioning.pipeline import retry_order, start_provisioning
from portal.subscriptions.models import (
    Mailbox,
    Order,
    OrderEvent,
    OrderLine,
    OrderState,
    Subscription,
)
from tests.provisioning.helpers import make_order, sandbox_operator


@pytest.fixture
def jobs(app, db_session):
    queue.runner(app).clear()
    with app.app_context():
        yield db_session
    queue.runner(app).clear()


def _run(app, db_session, order):
    start_provisioning(db_session, order, actor="account:1", reason="Nothing to pay")
    db_session.commit()
    queue.drain(app)
    return db_session.get(Order, order.id)


def _mailbox(db_session, order):
    line = db_session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).one()
    return db_session.get(Mailbox, line.mailbox_id) if line.mailbox_id else None


def test_a_free_order_ends_active_listed_and_announced(app, jobs, settings, clean_sandbox):
    operator = sandbox_operator(jobs, settings, clean_sandbox, support_hours={"fr": "9 h – 17 h"})
    order = make_order(jobs, operator=operator, email="marie@example.org")
    order = _run(app, jobs, order)

    assert order.state == OrderState.ACTIVE
    mailbox = _mailbox(jobs, order)
    assert mailbox.state == "active"
    remote = clean_sandbox.mailboxes(mailbox.address)
    assert [(row["id"], row["status"]) for row in remote] == [(mailbox.external_id, "active")]
    assert mailbox.connection["imap_host"] == f"imap.{operator.mail_domains[0]}"
    entry = jobs.exec(select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address)).one()
    assert entry.source == "portal"
    assert entry.mailbox_id == mailbox.id
    message = jobs.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key == f"mailbox-ready:{mailbox.id}")
    ).one()
    assert message.to_address == "marie@example.org"
    assert message.status == "sent"
    assert f"imap.{operator.mail_domains[0]}" in message.body_text
    subscription = jobs.exec(select(Subscription).where(Subscription.order_id == order.id)).one()
    assert mailbox.subscription_id == subscription.id
    path = [
        (event.from_state, event.to_state, event.actor)
        for event in jobs.exec(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        )
    ]
    assert path[-2:] == [
        ("submitted", "provisioning", "account:1"),
        ("provisioning", "active", "system"),
    ]


def test_an_operator_failing_three_times_then_answering_gives_one_mailbox(
    app, jobs, settings, clean_sandbox
):
    clean_sandbox.faults(fail_next=3)
    order = make_order(jobs, operator=sandbox_operator(jobs, settings, clean_sandbox))
    order = _run(app, jobs, order)

    assert order.state == OrderState.ACTIVE
    mailbox = _mailbox(jobs, order)
    assert len(clean_sandbox.mailboxes(mailbox.address)) == 1
    outcomes = jobs.exec(
        select(ProvisioningAttempt.outcome)
        .where(ProvisioningAttempt.mailbox_id == mailbox.id)
        .order_by(ProvisioningAttempt.id)
    ).all()
    assert outcomes == ["transient", "transient", "transient", "success"]


def test_a_lost_answer_and_a_retry_never_create_a_second_mailbox(
    app, jobs, settings, clean_sandbox
):
    # The operator creates the mailbox but answers after the client gave up (2 s), twice.
    clean_sandbox.faults(timeout_next=2, timeout_seconds=3)
    order = make_order(jobs, operator=sandbox_operator(jobs, settings, clean_sandbox))
    order = _run(app, jobs, order)

    assert order.state == OrderState.ACTIVE
    assert len(clean_sandbox.mailboxes(_mailbox(jobs, order).address)) == 1


def test_garbage_answers_are_retried_and_give_one_mailbox(app, jobs, settings, clean_sandbox):
    clean_sandbox.faults(garbage_next=1)
    order = make_order(jobs, operator=sandbox_operator(jobs, settings, clean_sandbox))
    order = _run(app, jobs, order)

    assert order.state == OrderState.ACTIVE
    assert len(clean_sandbox.mailboxes(_mailbox(jobs, order).address)) == 1


def test_already_exists_for_our_own_key_is_recognised_as_ours(app, jobs, settings, clean_sandbox):
    # The first creation succeeds at the operator but its answer is lost; the operator then
    # answers "address unavailable" to the replay instead of returning the mailbox.
    clean_sandbox.faults(timeout_next=1, timeout_seconds=3, forget_idempotency=True)
    order = make_order(jobs, operator=sandbox_operator(jobs, settings, clean_sandbox))
    order = _run(app, jobs, order)

    assert order.state == OrderState.ACTIVE
    mailbox = _mailbox(jobs, order)
    assert [row["id"] for row in clean_sandbox.mailboxes(mailbox.address)] == [mailbox.external_id]


def test_a_permanent_refusal_needs_attention_then_a_staff_retry_succeeds(
    app, jobs, settings, clean_sandbox
):
    operator = sandbox_operator(jobs, settings, clean_sandbox)
    order = make_order(jobs, operator=operator, address=f"refused.once@{operator.mail_domains[0]}")
    clean_sandbox.faults(refuse_addresses=[f"refused.once@{operator.mail_domains[0]}"])
    order = _run(app, jobs, order)

    assert order.state == OrderState.NEEDS_ATTENTION
    assert order.attention_reason == "The operator does not accept this address."
    assert clean_sandbox.mailboxes(f"refused.once@{operator.mail_domains[0]}") == []

    clean_sandbox.faults()  # the operator's staff fix the cause
    retry_order(jobs, order, actor="staff:7")
    jobs.commit()
    queue.drain(app)

    order = jobs.get(Order, order.id)
    assert order.state == OrderState.ACTIVE
    assert order.attention_reason is None
    events = jobs.exec(
        select(OrderEvent.to_state, OrderEvent.actor, OrderEvent.reason)
        .where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.id)
    ).all()
    assert ("needs_attention", "system", "The operator does not accept this address.") in events
    assert ("provisioning", "staff:7", "Retried by staff") in events
    assert len(clean_sandbox.mailboxes(f"refused.once@{operator.mail_domains[0]}")) == 1


def test_an_address_already_used_by_another_mailbox_needs_attention(
    app, jobs, settings, clean_sandbox
):
    operator = sandbox_operator(jobs, settings, clean_sandbox)
    address = f"deja.prise@{operator.mail_domains[0]}"
    jobs.add(Mailbox(address=address, type="PER", operator_id=operator.id, state="active"))
    jobs.flush()
    order = _run(app, jobs, make_order(jobs, operator=operator, address=address))

    assert order.state == OrderState.NEEDS_ATTENTION
    assert "already used by another mailbox" in order.attention_reason
    assert clean_sandbox.mailboxes(address) == []


def test_a_misconfigured_operator_needs_attention_with_a_reason(app, jobs, settings):
    from tests.factories import make_operator

    operator = make_operator(jobs, adapter_kind="mss-provisioning-v1", adapter_settings={})
    order = _run(app, jobs, make_order(jobs, operator=operator))
    assert order.state == OrderState.NEEDS_ATTENTION
    assert order.attention_reason == (
        "The operator's provisioning API address or token is not configured."
    )


def test_a_switch_of_offer_keeps_the_preferred_address_and_terminates_the_old_mailbox(
    app, jobs, settings, clean_sandbox
):
    operator = sandbox_operator(jobs, settings, clean_sandbox)
    old = _run(app, jobs, make_order(jobs, operator=operator))
    old_mailbox = _mailbox(jobs, old)
    old_entry = jobs.exec(
        select(DirectoryEntry).where(DirectoryEntry.mailbox_id == old_mailbox.id)
    ).one()
    old_entry.preferred = True
    jobs.commit()
    subscription = jobs.exec(select(Subscription).where(Subscription.order_id == old.id)).one()

    new = make_order(jobs, operator=operator)
    new.professional_id = old.professional_id
    new.account_id = old.account_id
    new.replaces_subscription_id = subscription.id
    new = _run(app, jobs, new)

    assert new.state == OrderState.ACTIVE
    new_mailbox = _mailbox(jobs, new)
    new_entry = jobs.exec(
        select(DirectoryEntry).where(DirectoryEntry.mailbox_id == new_mailbox.id)
    ).one()
    assert new_entry.preferred
    assert jobs.get(Order, old.id).state == OrderState.TERMINATED
    assert jobs.get(Mailbox, old_mailbox.id).state == "terminated"
    assert [row["status"] for row in clean_sandbox.mailboxes(old_mailbox.address)] == ["terminated"]
    assert (
        jobs.exec(
            select(DirectoryEntry).where(DirectoryEntry.address == old_mailbox.address)
        ).first()
        is None
    )


def test_a_creation_confirmed_at_once_is_listed_activated_and_announced_by_one_job(
    app, jobs, settings, clean_sandbox
):
    operator = sandbox_operator(jobs, settings, clean_sandbox)
    order = make_order(jobs, operator=operator, email="paul@example.org")
    start_provisioning(jobs, order, actor="account:1", reason="Nothing to pay")
    jobs.commit()

    assert queue.drain(app) == 1  # the creation job; the e-mail went right after it
    jobs.expire_all()
    order = jobs.get(Order, order.id)
    assert order.state == OrderState.ACTIVE
    mailbox = _mailbox(jobs, order)
    entry = jobs.exec(select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address)).one()
    assert (entry.mailbox_id, entry.source, entry.mailbox_type) == (mailbox.id, "portal", "PER")
    message = jobs.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key == f"mailbox-ready:{mailbox.id}")
    ).one()
    assert (message.to_address, message.status) == ("paul@example.org", "sent")
    attempts = jobs.exec(
        select(ProvisioningAttempt.outcome, ProvisioningAttempt.finished_at).where(
            ProvisioningAttempt.mailbox_id == mailbox.id
        )
    ).all()
    assert len(attempts) == 1
    assert attempts[0][0] == "success" and attempts[0][1] is not None


def _pending_functions(app) -> list[str]:
    runner = queue.runner(app)
    if isinstance(runner, queue.EmbeddedRunner):
        return [call.function for call in runner.pending]
    return [job.args[0] for name in queue.QUEUE_NAMES for job in runner.queues[name].jobs]


def test_a_directory_that_does_not_answer_keeps_the_mailbox_and_lists_it_later(
    app, jobs, settings, clean_sandbox, monkeypatch
):
    from portal.provisioning import jobs as pipeline_jobs

    operator = sandbox_operator(jobs, settings, clean_sandbox)
    order = make_order(jobs, operator=operator)
    start_provisioning(jobs, order, actor="account:1", reason="Nothing to pay")
    jobs.commit()
    queue.runner(app).clear()
    with socket.socket() as probe:  # a national directory that nobody serves
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/fhir"
    monkeypatch.setitem(
        app.config, "PORTAL_SETTINGS", settings.with_overrides(directory_fhir_base_url=dead)
    )
    pipeline_jobs.provision_order(order.id)

    jobs.expire_all()
    order = jobs.get(Order, order.id)
    assert order.state == OrderState.PROVISIONING
    mailbox = _mailbox(jobs, order)
    assert mailbox.state == "active" and mailbox.external_id
    assert jobs.exec(
        select(ProvisioningAttempt.outcome).where(ProvisioningAttempt.mailbox_id == mailbox.id)
    ).all() == ["success"]
    assert (
        jobs.exec(select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address)).all()
        == []
    )
    assert _pending_functions(app) == ["portal.provisioning.jobs:register_order_in_directory"]

    queue.runner(app).clear()
    monkeypatch.setitem(app.config, "PORTAL_SETTINGS", settings)  # the directory is back
    pipeline_jobs.register_order_in_directory(order.id)
    jobs.expire_all()
    assert jobs.get(Order, order.id).state == OrderState.ACTIVE
    assert jobs.exec(select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address)).one()
    assert len(clean_sandbox.mailboxes(mailbox.address)) == 1
