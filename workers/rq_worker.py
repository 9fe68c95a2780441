"""The rq worker: serves the queues provisioning, mail and directory.

Run with ``flask --app portal worker`` (or ``python -m workers.rq_worker``). Each job runs in a
forked work horse, so a job that crashes or leaks cannot take the worker down; the app context
built here is inherited by the work horses. Unless ``--no-scheduler`` is given, the scheduler
(:mod:`workers.scheduler`) runs beside it in a child process.
"""

from __future__ import annotations

import multiprocessing
import os

from flask import Flask
from redis import Redis
from rq import Queue, Worker

from portal.db import database
from portal.queue import QUEUE_NAMES


class PortalWorker(Worker):
    """An rq worker whose work horses never reuse the parent's database connections."""

    def main_work_horse(self, *args, **kwargs):  # type: ignore[override]
        # Connections opened before the fork belong to the parent: drop them (do not close).
        database().engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)


def run_worker(app: Flask, *, burst: bool, with_scheduler: bool, reconcile_every: int) -> None:
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
            worker = PortalWorker(
                [Queue(name, connection=connection) for name in QUEUE_NAMES],
                connection=connection,
            )
            # rq's own scheduler moves retries (enqueued with a delay) back to their queue.
            worker.work(burst=burst, with_scheduler=True)
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
