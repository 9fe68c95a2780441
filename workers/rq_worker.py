"""The rq worker: serves the queues provisioning, mail and directory.

Run with ``flask --app portal worker`` (or ``python -m workers.rq_worker``). Two ways to run a
job, chosen with ``--fork/--no-fork``:

- no fork (the default): the worker runs each job itself, in its app context built once, with
  its pool of database connections and every module the jobs need already imported and warm.
  A job that hangs is stopped by rq's job timeout; a crash of the process loses nothing, since
  the reconciler hands unfinished orders and e-mails to the workers again.
- fork: each job runs in a forked work horse, which isolates jobs from each other (memory,
  crashes) at the price of a new process and a new database connection per job.

Unless ``--no-scheduler`` is given, the scheduler (:mod:`workers.scheduler`) runs beside it in
a child process.
"""

from __future__ import annotations

import multiprocessing
import os

from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker, Worker

from portal.db import database
from portal.queue import QUEUE_NAMES


class PortalWorker(Worker):
    """An rq worker whose work horses never reuse the parent's database connections."""

    def main_work_horse(self, *args, **kwargs):  # type: ignore[override]
        # Connections opened before the fork belong to the parent: drop them (do not close).
        database().engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)


class PortalSimpleWorker(SimpleWorker):
    """An rq worker running jobs in its own process: warm modules, pooled connections."""


def run_worker(
    app: Flask,
    *,
    burst: bool,
    with_scheduler: bool,
    reconcile_every: int,
    fork: bool = False,
    max_jobs: int | None = None,
) -> None:
    settings = app.config["PORTAL_SETTINGS"]
    connection = Redis.from_url(settings.redis_url)
    scheduler = None
    if with_scheduler:
        from workers.scheduler import run_scheduler

        scheduler = multiprocessing.get_context("fork").Process(
            target=run_scheduler,
            args=(settings.redis_url, reconcile_every),
            name="portal-scheduler",
            daemon=True,
        )
        scheduler.start()
    try:
        with app.app_context():
            worker_class = PortalWorker if fork else PortalSimpleWorker
            worker = worker_class(
                [Queue(name, connection=connection) for name in QUEUE_NAMES],
                connection=connection,
            )
            # rq's own scheduler moves retries (enqueued with a delay) back to their queue.
            worker.work(burst=burst, with_scheduler=True, max_jobs=max_jobs)
    finally:
        if scheduler is not None and scheduler.is_alive():
            scheduler.terminate()
            scheduler.join(5)


def main() -> None:
    from portal.app import create_app

    app = create_app()
    run_worker(
        app,
        burst=bool(os.environ.get("WORKER_BURST")),
        with_scheduler=True,
        reconcile_every=120,
    )


if __name__ == "__main__":
    main()
