"""Background jobs: handed over after the commit, retried with back-off only when it may pass."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError

from portal import queue
from portal.app import create_app
from portal.queue import TransientJobError, drain, enqueue

CALLS: list[tuple[str, int]] = []
FAILURES_LEFT: dict[int, int] = {}
RAN_IN_THREAD = threading.Event()
THREAD_NAMES: list[str] = []


def record(value: int) -> None:
    CALLS.append(("record", value))


def fails_transiently(value: int) -> None:
    CALLS.append(("transient", value))
    if FAILURES_LEFT.get(value, 0) > 0:
        FAILURES_LEFT[value] -= 1
        raise TransientJobError("the service is down")


def fails_for_good(value: int) -> None:
    CALLS.append(("broken", value))
    raise ValueError("a bug, not a passing failure")


def meets_a_busy_database(value: int) -> None:
    CALLS.append(("busy", value))
    if FAILURES_LEFT.get(value, 0) > 0:
        FAILURES_LEFT[value] -= 1
        raise OperationalError("INSERT …", {}, Exception("database is locked"))


def signal_thread(value: int) -> None:
    THREAD_NAMES.append(threading.current_thread().name)
    RAN_IN_THREAD.set()


@pytest.fixture
def jobs(app, db_session):
    CALLS.clear()
    FAILURES_LEFT.clear()
    queue.runner(app).clear()
    yield
    queue.runner(app).clear()


def test_a_job_enqueued_in_a_transaction_runs_only_after_the_commit(app, db_session, jobs):
    with app.app_context():
        enqueue(record, 1, queue="mail", session=db_session)
        drain(app)
        assert CALLS == []
        db_session.commit()
        drain(app)
    assert CALLS == [("record", 1)]


def test_a_rolled_back_transaction_drops_its_jobs(app, db_session, jobs):
    with app.app_context():
        enqueue(record, 2, queue="directory", session=db_session)
        db_session.rollback()
        db_session.commit()
        drain(app)
    assert CALLS == []


def test_a_transient_failure_is_retried_until_it_passes(app, db_session, jobs):
    FAILURES_LEFT[3] = 2
    with app.app_context():
        enqueue(fails_transiently, 3, queue="provisioning")
        drain(app)
    assert CALLS == [("transient", 3)] * 3


def test_retries_stop_after_the_back_off_delays_are_used_up(app, db_session, jobs, settings):
    FAILURES_LEFT[4] = 100
    with app.app_context():
        enqueue(fails_transiently, 4, queue="provisioning")
        drain(app)
    assert len(CALLS) == len(settings.retry_backoff) + 1


def test_any_other_error_is_not_retried(app, db_session, jobs):
    with app.app_context():
        enqueue(fails_for_good, 5, queue="provisioning")
        drain(app)
    assert CALLS == [("broken", 5)]


def test_a_busy_database_is_a_failure_that_may_pass(app, db_session, jobs):
    FAILURES_LEFT[7] = 1
    with app.app_context():
        enqueue(meets_a_busy_database, 7, queue="directory")
        drain(app)
    assert CALLS == [("busy", 7)] * 2


def test_unknown_queue_names_are_refused(app):
    with app.app_context(), pytest.raises(ValueError, match="unknown queue"):
        enqueue(record, 6, queue="default")


def test_without_redis_development_runs_jobs_in_a_background_thread(settings):
    threaded_app = create_app(settings.with_overrides(redis_url=None, job_runner="thread"))
    RAN_IN_THREAD.clear()
    THREAD_NAMES.clear()
    with threaded_app.app_context():
        enqueue(signal_thread, 7, queue="mail")
    assert RAN_IN_THREAD.wait(10)
    assert THREAD_NAMES == ["portal-embedded-queue"]
    queue.runner(threaded_app).stop()


def test_the_runner_follows_the_settings(settings):
    assert settings.with_overrides(redis_url=None).queue_runner == "manual"
    assert (
        settings.with_overrides(portal_env="development", redis_url=None).queue_runner == "thread"
    )
    assert settings.with_overrides(redis_url="redis://127.0.0.1:6379/4").queue_runner == "rq"
