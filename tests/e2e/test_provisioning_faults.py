"""Faults over real processes (tests/e2e/processes.py): an operator failing then answering, a
worker killed (SIGKILL) in the middle of a creation, twenty simultaneous submissions of one form,
and a permanent refusal fixed by the operator's staff. Each ends with exactly one mailbox at the
reference operator."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import requests
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from sqlmodel import select

from portal.accounts.models import Account, Membership, Role
from portal.accounts.passwords import hash_password
from portal.db import session_scope, utcnow
from portal.provisioning.models import ProvisioningAttempt
from portal.subscriptions.models import Mailbox, Order, OrderLine
from tests.e2e.journey import (
    free_offer,
    order_in_provisioning,
    order_state,
    order_status,
    portal_app,
    sign_in_with_password,
    sign_in_with_psc,
    soup,
    submit,
    wait_for_status,
    walk_to_summary,
)
from tests.e2e.processes import wait_until

pytestmark = [pytest.mark.server, pytest.mark.e2e]
STAFF_PASSWORD = "Un mot de passe assez long pour les tests 42"


@pytest.fixture
def operator_normal(provisioning):
    provisioning.operator_faults()
    yield provisioning
    provisioning.operator_faults()


def wait_for_state(stack, order_id: int, state: str, seconds: float = 60) -> None:
    try:
        wait_until(lambda: order_state(stack, order_id) == state, seconds, what=f"order {state}")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{stack.logs()}") from None


def attempts_of(stack, order_id: int) -> list[tuple[str, str | None]]:
    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        rows = session.exec(
            select(ProvisioningAttempt.action, ProvisioningAttempt.outcome)
            .join(OrderLine, OrderLine.id == ProvisioningAttempt.order_line_id)
            .where(OrderLine.order_id == order_id)
            .order_by(ProvisioningAttempt.id)
        )
        return [tuple(row) for row in rows]


def external_id_of(stack, order_id: int) -> str | None:
    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        return session.exec(
            select(Mailbox.external_id)
            .join(OrderLine, OrderLine.mailbox_id == Mailbox.id)
            .where(OrderLine.order_id == order_id)
        ).one()


def test_an_operator_failing_three_times_then_answering_gives_one_mailbox(operator_normal):
    stack = operator_normal
    offer = free_offer(stack)
    stack.operator_faults(fail_next=3)
    order_id = order_in_provisioning(stack, offer, "trois.echecs")

    wait_for_state(stack, order_id, "active")
    [mailbox] = stack.operator_mailboxes(f"trois.echecs@{offer.domain}")
    assert mailbox["id"] == external_id_of(stack, order_id)
    assert attempts_of(stack, order_id) == [
        ("create", "transient"),
        ("create", "transient"),
        ("create", "transient"),
        ("create", "success"),
    ]


def test_twenty_simultaneous_submissions_of_one_form_give_one_order(operator_normal):
    stack = operator_normal
    offer = free_offer(stack)
    browser = sign_in_with_psc(stack, "sage-femme-centre-sante")
    summary = walk_to_summary(stack, browser, offer)
    start = threading.Barrier(20)
    landed: list[str] = []
    failures: list[BaseException] = []

    def post() -> None:
        tab = requests.Session()  # a tab of the same browser: same cookies, its own connection
        tab.cookies.update(browser.cookies)
        try:
            start.wait(10)
            response = tab.post(
                summary.url,
                data={**summary.form, "contact_email": "sage-femme@example.org"},
                timeout=60,
            )
            assert response.status_code == 200, response.status_code
            landed.append(response.url)
        except BaseException as error:  # reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert failures == []
    assert len(landed) == 20
    assert len(set(landed)) == 1, set(landed)
    order_id = int(landed[0].rsplit("/", 1)[1])

    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        orders = session.exec(
            select(Order).where(Order.idempotency_key == summary.form["idempotency_key"])
        ).all()
        assert [order.id for order in orders] == [order_id]
        account_orders = session.scalar(
            sa.select(sa.func.count())
            .select_from(Order)
            .where(Order.account_id == orders[0].account_id, Order.offer_revision_id.in_(
                sa.select(Order.offer_revision_id).where(Order.id == order_id)
            ))
        )  # fmt: skip
        assert account_orders == 1
    wait_for_status(browser, landed[0], "Boîte active")
    assert len(stack.operator_mailboxes(summary.address)) == 1
    assert len(wait_until(lambda: stack.inbox.to("sage-femme@example.org"), 30)) == 1


def test_a_permanent_refusal_is_explained_then_fixed_and_retried_by_staff(operator_normal):
    stack = operator_normal
    offer = free_offer(stack)
    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        staff = Account(
            email=f"staff@{offer.domain}",
            display_name="Agent de l'opérateur",
            password_hash=hash_password(STAFF_PASSWORD),
        )
        session.add(staff)
        session.flush()
        session.add(
            Membership(account_id=staff.id, role=Role.OPERATOR_ADMIN, operator_id=offer.operator_id)
        )

    person = sign_in_with_psc(stack, "pharmacien-titulaire")
    summary = walk_to_summary(stack, person, offer)
    stack.operator_faults(refuse_addresses=[summary.address])
    order_url = submit(person, summary)
    order_id = int(order_url.rsplit("/", 1)[1])

    # The person reads what happened and what to do.
    reason = "The operator does not accept this address."
    try:
        status = wait_until(
            lambda: (
                (found := order_status(person, order_url)) is not None
                and found.select_one("#attention-reason")
                and found
            ),
            60,
            what=f"the operator's reason on {order_url}",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n{order_history(stack, order_id)}\n{stack.logs()}") from None
    assert "Action nécessaire" in status.get_text()
    assert status.select_one("#attention-reason").get_text(strip=True) == reason
    assert stack.operator_mailboxes(summary.address) == []

    # A professional cannot press the staff's retry button.
    retry_path = f"/espace-operateur/{offer.operator_id}/commandes/{order_id}/relancer"
    token = soup(person.get(order_url, timeout=10)).select_one("input[name=csrf_token]")
    refused = person.post(
        stack.portal_url + retry_path,
        data={"csrf_token": token["value"] if token else ""},
        allow_redirects=False,
        timeout=10,
    )
    assert refused.status_code == 403
    assert order_state(stack, order_id) == "needs_attention"

    # The operator's staff see the order and its reason, fix the cause and retry.
    agent = sign_in_with_password(stack, f"staff@{offer.domain}", STAFF_PASSWORD)
    listing = soup(
        agent.get(
            f"{stack.portal_url}/espace-operateur/{offer.operator_id}/commandes",
            params={"etat": "needs_attention"},
            timeout=10,
        )
    )
    [row] = listing.select("[data-testid=orders] tbody tr")
    assert int(row["data-order"]) == order_id
    assert reason in row.get_text()
    stack.operator_faults()  # the operator accepts the address again
    answer = agent.post(
        stack.portal_url + row.select_one("form")["action"],
        data={"csrf_token": row.select_one("input[name=csrf_token]")["value"]},
        timeout=10,
    )
    assert f"Commande n° {order_id} relancée." in soup(answer).get_text()

    wait_for_status(person, order_url, "Boîte active")
    [mailbox] = stack.operator_mailboxes(summary.address)
    assert mailbox["status"] == "active"
    assert attempts_of(stack, order_id) == [("create", "permanent"), ("create", "success")]


def test_a_worker_killed_during_a_creation_only_delays_the_order(operator_normal):
    stack = operator_normal
    offer = free_offer(stack)
    address = f"tue.pendant.creation@{offer.domain}"
    stack.operator_faults(latency_ms=4000)  # the creation stays in flight for 4 seconds
    order_id = order_in_provisioning(stack, offer, address.split("@")[0])

    registry = Queue("provisioning", connection=Redis.from_url(stack.redis_url))
    job_name = f"portal.provisioning.jobs:provision_order({order_id},)"

    def creating() -> bool:
        jobs = [
            registry.fetch_job(job_id) for job_id in registry.started_job_registry.get_job_ids()
        ]
        return any(job is not None and job.description == job_name for job in jobs)

    wait_until(creating, 30, what="the creation job to start")
    threading.Event().wait(1.0)  # the worker is now waiting for the operator's answer
    stack.worker.kill()  # SIGKILL: the worker, its work horse and its scheduler
    # The operator finishes the creation it received; the portal never hears the answer.
    wait_until(lambda: stack.operator_mailboxes(address), 30, what="the operator's creation")
    stack.operator_faults()
    assert order_state(stack, order_id) == "provisioning"
    assert attempts_of(stack, order_id) == []  # the job died before committing anything

    # Time passes beyond the reconciler's deadline (5 minutes without any news of the order).
    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        order = session.get(Order, order_id)
        order.state_changed_at = utcnow() - dt.timedelta(minutes=10)
        session.add(order)
    stack.start_worker()  # its scheduler runs the reconciler at once, then every 5 seconds

    wait_for_state(stack, order_id, "active")
    [mailbox] = stack.operator_mailboxes(address)
    assert mailbox["id"] == external_id_of(stack, order_id)
    assert attempts_of(stack, order_id) == [("create", "success")]


def order_history(stack, order_id: int) -> str:
    """The order's state, reason, events and attempts: what a failure of this test needs."""
    from portal.subscriptions.models import OrderEvent

    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        order = session.get(Order, order_id)
        events = session.exec(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        ).all()
        attempts = session.exec(select(ProvisioningAttempt).order_by(ProvisioningAttempt.id)).all()
        lines = [f"order {order_id}: {order.state}, reason {order.attention_reason!r}"]
        lines += [f"  {e.from_state} -> {e.to_state} by {e.actor}: {e.reason}" for e in events]
        lines += [f"  attempt {a.action} {a.outcome} {a.error_code}: {a.message}" for a in attempts]
        return "\n".join(lines)
