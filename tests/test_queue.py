"""Background jobs: handed over after the commit, retried with back-off only when it may pass."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError

from portal import queue
from portal.app import create_app
from portal.db import session_scope
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


def hands_over_a_follow_up(value: int) -> None:
    """A job that commits, and hands over ``record(value)`` as a follow-up of that commit."""
    with session_scope() as session:
        enqueue(record, value, queue="mail", session=session, follow_up=True)
    CALLS.append(("parent", value))


def hands_over_a_failing_follow_up(value: int) -> None:
    with session_scope() as session:
        enqueue(fails_transiently, value, queue="mail", session=session, follow_up=True)
    CALLS.append(("parent", value))


def commits_a_follow_up_then_breaks(value: int) -> None:
    with session_scope() as session:
        enqueue(record, value, queue="mail", session=session, follow_up=True)
    CALLS.append(("parent", value))
    raise ValueError("a bug after the commit")


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


def test_a_follow_up_runs_right_after_its_job_without_going_through_a_queue(app, db_session, jobs):
    with app.app_context():
        enqueue(hands_over_a_follow_up, 8, queue="provisioning")
        assert drain(app) == 1  # one job taken from the queues; its follow-up ran with it
        assert drain(app) == 0
    assert CALLS == [("parent", 8), ("record", 8)]


def test_a_follow_up_that_may_pass_later_goes_to_its_queue_and_is_retried(app, db_session, jobs):
    FAILURES_LEFT[9] = 1
    with app.app_context():
        enqueue(hands_over_a_failing_follow_up, 9, queue="provisioning")
        assert drain(app) == 2  # the job (with the failed follow-up), then the retry
    assert CALLS == [("parent", 9), ("transient", 9), ("transient", 9)]


def test_a_follow_up_committed_before_its_job_broke_still_runs(app, db_session, jobs):
    with app.app_context():
        enqueue(commits_a_follow_up_then_breaks, 10, queue="provisioning")
        drain(app)
    assert CALLS == [("parent", 10), ("record", 10)]


def test_a_follow_up_handed_over_outside_a_job_is_an_ordinary_job(app, db_session, jobs):
    with app.app_context():
        enqueue(record, 11, queue="mail", session=db_session, follow_up=True)
        db_session.commit()
        assert CALLS == []
        assert drain(app) == 1
    assert CALLS == [("record", 11)]


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
