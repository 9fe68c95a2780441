"""Background jobs on named queues: rq when REDIS_URL is set, an embedded queue otherwise.

A job is a plain importable function taking ids (``provision_order(order_id)``): it reloads
what it needs from the database, so running it twice is harmless. Enqueue it with::

    enqueue(provision_order, order.id, queue="provisioning", session=session)

With ``session`` the job is handed over only once that session commits (and dropped if it
rolls back), so a worker never looks for a row that is not committed yet. Without it the job
is handed over at once (commands, or a job that has already committed).

A *follow-up* (``enqueue(..., session=session, follow_up=True)``) is work that a job hands
over and that is best done at once: sending the e-mail the job just wrote to the outbox. When
it is enqueued from a running job, whoever runs that job (an rq worker, the embedded queue)
runs the follow-up itself right after the job, after its commit, without a round trip through
Redis; if it fails for a reason that may pass it goes to its queue to be retried with back-off
like any job, and if the worker dies first the reconciler finds the work in the database.
Enqueued outside a job (a web request, a command) a follow-up is an ordinary job.

A job that raises :class:`TransientJobError` (or a subclass) is retried with back-off
(``Settings.retry_backoff``); once the delays are used up it is left failed, and the
reconciler picks its work up again later. Any other exception fails the job without retry.

Who runs the jobs (``Settings.queue_runner``):

- ``rq``: Redis queues named ``provisioning``, ``mail`` and ``directory``, served by
  ``flask --app portal worker``; retries are scheduled by rq.
- ``thread``: no Redis (``make run``). One background thread of the web process runs the jobs
  in order, after the commit that enqueued them; retries wait their delay in that thread.
  Jobs still pending when the process stops are found again by the reconciler.
- ``manual``: the test suite. Jobs wait in memory until the test calls :func:`drain`, which
  runs them (and the jobs they enqueue) synchronously, ignoring retry delays.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, SimpleWorker
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

QUEUE_NAMES = ("provisioning", "mail", "directory")
_PENDING_KEY = "portal_pending_jobs"
_EXTENSION = "portal_queue"
JOB_TIMEOUT_SECONDS = 300
MAX_FOLLOW_UPS = 1000
# The follow-ups collected while an rq worker runs a job (None outside such a job).
_follow_ups: ContextVar[list[tuple[Flask, JobCall]] | None] = ContextVar(
    "portal_follow_ups", default=None
)


class TransientJobError(Exception):
    """A failure that may pass (a service down, a timeout): the job is retried later."""


@dataclass(frozen=True)
class JobCall:
    """What to run: a function named by its import path, and its (id) arguments."""

    queue: str
    function: str
    args: tuple[Any, ...]

    def describe(self) -> str:
        return f"{self.function}{self.args}"


def function_path(function: Callable[..., Any] | str) -> str:
    if isinstance(function, str):
        return function
    return f"{function.__module__}:{function.__qualname__}"


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def enqueue(
    function: Callable[..., Any] | str,
    *args: Any,
    queue: str,
    session: Session | None = None,
    follow_up: bool = False,
) -> JobCall:
    """Run ``function(*args)`` in the background on ``queue``, after ``session`` commits.

    ``follow_up``: when enqueued by a job that an rq worker runs, the same worker runs it right
    after that job (see the module's documentation).
    """
    if queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue!r}; use one of {', '.join(QUEUE_NAMES)}")
    call = JobCall(queue=queue, function=function_path(function), args=tuple(args))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if session is None:
        _hand_over(app, call, follow_up)
    else:
        if not session.in_transaction():
            session.begin()  # so that a rollback, even of nothing else, drops the job
        session.info.setdefault(_PENDING_KEY, []).append((app, call, follow_up))
    return call


def _hand_over(app: Flask, call: JobCall, follow_up: bool) -> None:
    collected = _follow_ups.get() if follow_up else None
    if collected is not None:
        collected.append((app, call))
    else:
        _runner(app).submit(call)


@event.listens_for(Session, "after_commit")
def _hand_over_after_commit(session: Session) -> None:
    # Only hand-overs happen here (no SQL): the session is between transactions.
    pending = session.info.pop(_PENDING_KEY, [])
    for app, call, follow_up in pending:
        _hand_over(app, call, follow_up)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.nested:
        return  # a savepoint rolled back; the enclosing transaction may still commit
    dropped = session.info.pop(_PENDING_KEY, [])
    if dropped:
        log.info("jobs dropped with a rolled-back transaction", extra={"jobs": len(dropped)})


def run_job(function: str, *args: Any) -> Retry | None:
    """Run one job; what rq executes. Returns a ``Retry`` after a transient failure."""
    return perform_with_follow_ups(_job_app(), function, *args)


def perform_with_follow_ups(app: Flask, function: str, *args: Any) -> Retry | None:
    """:func:`perform`, then the follow-ups the job enqueued (even if it failed after
    committing them)."""
    follow_ups: list[tuple[Flask, JobCall]] = []
    token = _follow_ups.set(follow_ups)
    try:
        return perform(app, function, *args)
    finally:
        try:
            _run_follow_ups(follow_ups)
        finally:
            _follow_ups.reset(token)


def _run_follow_ups(follow_ups: list[tuple[Flask, JobCall]]) -> None:
    """Run the follow-ups of a job, and theirs; what may pass later goes to its queue."""
    done = 0
    while follow_ups and done < MAX_FOLLOW_UPS:
        app, call = follow_ups.pop(0)
        done += 1
        try:
            retry = perform(app, call.function, *call.args)
        except Exception:
            log.exception("follow-up job failed", extra={"job": call.describe()})
            continue
        if retry is not None:
            _runner(app).submit(call)  # rq retries it with back-off from now on
    for app, call in follow_ups:  # a follow-up that keeps enqueuing follow-ups: use the queues
        _runner(app).submit(call)
    follow_ups.clear()


def perform(app: Flask, function: str, *args: Any) -> Retry | None:
    """Run ``function(*args)`` in an app context of ``app``; a ``Retry`` if it may pass later."""
    with app.app_context():
        try:
            resolve(function)(*args)
        except (TransientJobError, OperationalError) as error:
            # OperationalError: the database was busy or unreachable (SQLite allows one writer
            # at a time; PostgreSQL may report a deadlock); the job's transaction was rolled
            # back, so it can simply run again.
            delays = list(app.config["PORTAL_SETTINGS"].retry_backoff)
            log.warning(
                "job failed for a reason that may pass; it will be retried",
                extra={"job": function, "job_args": list(args), "error": str(error)},
            )
            return Retry(max=len(delays), interval=delays)
    return None


def _job_app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    # A plain `rq worker` process: build the app once from the environment.
    global _standalone_app
    if _standalone_app is None:
        from portal.app import create_app

        _standalone_app = create_app()
    return _standalone_app


_standalone_app: Flask | None = None


# --- runners -----------------------------------------------------------------------------


class RqRunner:
    """Jobs on Redis, served by rq workers."""

    def __init__(self, app: Flask):
        from redis import Redis

        settings = app.config["PORTAL_SETTINGS"]
        self.connection = Redis.from_url(settings.redis_url)
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}

    def submit(self, call: JobCall) -> Job:
        return self.queues[call.queue].enqueue(
            run_job,
            call.function,
            *call.args,
            job_timeout=JOB_TIMEOUT_SECONDS,
            description=call.describe(),
            failure_ttl=7 * 24 * 3600,
            result_ttl=3600,
        )

    def clear(self) -> None:
        for queue in self.queues.values():
            queue.empty()

    def drain(self, app: Flask, max_jobs: int = 1000) -> int:
        """Run every queued job in this process (tests): a burst of an rq SimpleWorker."""
        worker = _CountingWorker(list(self.queues.values()), connection=self.connection)
        with app.app_context():
            worker.work(burst=True, max_jobs=max_jobs, with_scheduler=False)
        return worker.performed


class _CountingWorker(SimpleWorker):
    performed = 0

    def execute_job(self, job: Job, queue: Queue) -> Any:
        self.performed += 1
        return super().execute_job(job, queue)


@dataclass(order=True)
class _Entry:
    due: float
    sequence: int
    call: JobCall = field(compare=False)
    attempt: int = field(default=0, compare=False)
    every: float | None = field(default=None, compare=False)  # periodic job: seconds


class EmbeddedRunner:
    """Jobs in memory, run by a background thread (``thread``) or by :func:`drain` (tests)."""

    def __init__(self, app: Flask, *, threaded: bool):
        self.app = app
        self.threaded = threaded
        self._heap: list[_Entry] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def submit(
        self, call: JobCall, *, attempt: int = 0, delay: float = 0.0, every: float | None = None
    ) -> None:
        with self._condition:
            heapq.heappush(
                self._heap,
                _Entry(time.monotonic() + delay, next(self._sequence), call, attempt, every),
            )
            if self.threaded and self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="portal-embedded-queue", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    @property
    def pending(self) -> list[JobCall]:
        with self._condition:
            return [entry.call for entry in sorted(self._heap)]

    def drain(self, app: Flask | None = None, max_jobs: int = 1000) -> int:
        """Run queued jobs now, in order, including those they enqueue; ignore retry delays."""
        done = 0
        while done < max_jobs:
            with self._condition:
                if not self._heap:
                    return done
                entry = heapq.heappop(self._heap)
            self._run(entry)
            done += 1
        raise RuntimeError(f"more than {max_jobs} jobs in a row: a job keeps enqueuing itself")

    def clear(self) -> None:
        with self._condition:
            self._heap.clear()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()

    def _serve(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    timeout = self._heap[0].due - time.monotonic() if self._heap else None
                    self._condition.wait(timeout)
                if self._stopping:
                    return
                entry = heapq.heappop(self._heap)
            self._run(entry)

    def periodically(self, call: JobCall, every: float) -> None:
        """Run ``call`` every ``every`` seconds in the background thread (not in tests)."""
        if self.threaded:
            self.submit(call, delay=every, every=every)

    def _run(self, entry: _Entry) -> None:
        if entry.every is not None:
            self.submit(entry.call, delay=entry.every, every=entry.every)
        try:
            retry = perform_with_follow_ups(self.app, entry.call.function, *entry.call.args)
        except Exception:
            log.exception("job failed", extra={"job": entry.call.describe()})
            return
        if retry is None:
            return
        if entry.attempt >= retry.max:
            log.error(
                "job still failing after its retries; the reconciler will try again later",
                extra={"job": entry.call.describe(), "attempts": entry.attempt + 1},
            )
            return
        delay = retry.intervals[min(entry.attempt, len(retry.intervals) - 1)]
        self.submit(entry.call, attempt=entry.attempt + 1, delay=0 if not self.threaded else delay)


def _runner(app: Flask) -> RqRunner | EmbeddedRunner:
    runner = app.extensions.get(_EXTENSION)
    if runner is None:
        runner = _make_runner(app)
        app.extensions[_EXTENSION] = runner
    return runner


def _make_runner(app: Flask) -> RqRunner | EmbeddedRunner:
    kind = app.config["PORTAL_SETTINGS"].queue_runner
    if kind == "rq":
        return RqRunner(app)
    return EmbeddedRunner(app, threaded=kind == "thread")


def runner(app: Flask | None = None) -> RqRunner | EmbeddedRunner:
    """The job runner of ``app`` (the current app by default)."""
    return _runner(app or current_app._get_current_object())  # type: ignore[attr-defined]


def drain(app: Flask | None = None, max_jobs: int = 1000) -> int:
    """Run every queued job now, in this process; returns how many ran. For tests and tools."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return _runner(app).drain(app, max_jobs=max_jobs)


def run_periodically(
    app: Flask, function: Callable[..., Any] | str, *, every: float, queue: str
) -> None:
    """Without Redis, run ``function()`` every ``every`` seconds in the web process's job thread.

    With Redis the scheduler of ``flask --app portal worker`` does it (workers/scheduler.py).
    """
    runner = _runner(app)
    if isinstance(runner, EmbeddedRunner):
        runner.periodically(JobCall(queue=queue, function=function_path(function), args=()), every)
