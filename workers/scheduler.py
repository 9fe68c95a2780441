"""The scheduler: enqueues the reconciler every few seconds (rq's CronScheduler).

The reconciler job itself runs on a worker like any other job. Run one scheduler per
installation (``flask --app portal worker`` starts one unless ``--no-scheduler``).
"""

from __future__ import annotations

from redis import Redis
from rq.cron import CronScheduler

from portal.queue import run_job

RECONCILER = "portal.provisioning.jobs:reconcile_orders"
PAYMENTS_HOUSEKEEPING = "portal.payments.jobs:payments_housekeeping"


def run_scheduler(redis_url: str, every_seconds: int) -> None:
    scheduler = CronScheduler(connection=Redis.from_url(redis_url), name="portal-scheduler")
    scheduler.register(
        run_job,
        "provisioning",
        args=(RECONCILER,),
        interval=every_seconds,
        job_timeout=300,
        name="reconcile-orders",
    )
    scheduler.register(
        run_job,
        "provisioning",
        args=(PAYMENTS_HOUSEKEEPING,),
        interval=max(every_seconds, 60),
        job_timeout=300,
        name="payments-housekeeping",
    )
    scheduler.start()
