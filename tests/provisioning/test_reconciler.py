"""The reconciler: a lost job or a killed worker only delays an order."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from portal import queue
from portal.app import create_app
from portal.config import Settings
from portal.db import utcnow
from portal.mail import queue_email
from portal.mail.models import OutboxMessage
from portal.provisioning.reconciler import reconcile
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderState
from tests.provisioning.helpers import make_order, sandbox_operator


def test_an_order_whose_job_was_lost_is_completed_by_the_reconciler(
    app, db_session, settings, clean_sandbox
):
    queue.runner(app).clear()
    with app.app_context():
        order = make_order(
            db_session, operator=sandbox_operator(db_session, settings, clean_sandbox)
        )
        # The order reached provisioning but its job vanished with Redis.
        states.transition(db_session, order, OrderState.PROVISIONING, actor="account:1")
        order.state_changed_at = utcnow() - dt.timedelta(minutes=30)
        db_session.commit()
        assert queue.drain(app) == 0

        report = reconcile(db_session)
        db_session.commit()
        assert order.id in report.orders
        queue.drain(app)
    assert db_session.get(Order, order.id).state == OrderState.ACTIVE


def test_recent_orders_are_left_to_their_jobs(app, db_session, settings, clean_sandbox):
    with app.app_context():
        order = make_order(
            db_session, operator=sandbox_operator(db_session, settings, clean_sandbox)
        )
        states.transition(db_session, order, OrderState.PROVISIONING, actor="account:1")
        db_session.flush()
        assert order.id not in reconcile(db_session).orders


def test_a_submitted_order_left_behind_is_moved_on(app, db_session, settings, clean_sandbox):
    queue.runner(app).clear()
    with app.app_context():
        order = make_order(
            db_session, operator=sandbox_operator(db_session, settings, clean_sandbox)
        )
        order.state_changed_at = utcnow() - dt.timedelta(minutes=30)
        db_session.commit()
        reconcile(db_session)
        db_session.commit()
        queue.drain(app)
    assert db_session.get(Order, order.id).state == OrderState.ACTIVE


def test_pending_emails_are_sent_again(app, db_session, settings, monkeypatch, tmp_path):
    monkeypatch.setitem(
        app.config, "PORTAL_SETTINGS", settings.with_overrides(instance_dir=tmp_path)
    )
    queue.runner(app).clear()
    with app.app_context():
        message = queue_email(
            db_session,
            to="a@example.org",
            template="mailbox_ready",
            context={
                "holder_name": "A",
                "address": "a@b.fr",
                "operator_name": "O",
                "order_url": "/",
            },
            locale="fr",
            dedup_key="reconciler-test",
        )
        message.created_at = utcnow() - dt.timedelta(hours=1)
        db_session.commit()
        queue.runner(app).clear()  # the send job is lost
        assert message.id in reconcile(db_session).emails
        queue.drain(app)
    sent = db_session.exec(select(OutboxMessage).where(OutboxMessage.id == message.id)).one()
    assert sent.status == "sent"


def test_the_reconcile_command_prints_what_it_did(app, db_session):
    result = app.test_cli_runner().invoke(args=["reconcile"])
    assert result.exit_code == 0, result.output
    assert "Orders handed to the workers again:" in result.output


def test_the_worker_command_explains_that_it_needs_redis(app, settings, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SETTINGS", settings.with_overrides(redis_url=None))
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0
    assert "REDIS_URL is not set" in result.output


def test_the_worker_command_refuses_a_database_behind_the_code(tmp_path):
    settings = Settings(
        portal_env="test",
        database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}",
        redis_url="redis://127.0.0.1:9/0",  # not reached: the database is checked first
        instance_dir=tmp_path,
    ).with_overrides()
    result = create_app(settings).test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0
    assert (
        "The database is not ready (it has no tables yet). Run `alembic upgrade head`, then "
        "start the worker again."
    ) in " ".join(result.output.split())
