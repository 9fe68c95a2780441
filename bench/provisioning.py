"""Benchmark: orders through the real provisioning pipeline versus no-op rq jobs.

Runs, on this machine only (127.0.0.1):

- PostgreSQL database ``bench_provisioning`` (dropped and recreated, migrated, seeded);
- Redis database 5, or ``BENCH_REDIS_URL`` (emptied);
- the reference operator (``flask --app portal operator-sandbox``) over HTTP, its own SQLite;
- an SMTP sink (aiosmtpd) receiving the confirmation e-mails;
- two ``flask --app portal worker --no-scheduler`` processes (``--fork`` to give them
  ``--fork``: a forked work horse per job instead of running jobs in the worker itself).

Then it times, with the same two workers:

1. N orders (default 1,000) from ``submitted`` to ``active`` with their e-mail sent: per order
   one creation job (HTTP call to the operator, then, in the same transaction, the directory
   entry, the activation and the outbox message), whose follow-up sends the e-mail (SMTP) in
   the same worker right after the commit;
2. N no-op jobs through the same job wrapper (``portal.queue.run_job``).

It prints orders per second, no-op jobs per second and their ratio. Usage::

    .venv/bin/python bench/provisioning.py [--orders 1000] [--workers 2] [--fork]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "bench_provisioning"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
SECRET_KEY = "bench-provisioning-secret-key-not-for-production-0123456789"  # noqa: S105 (local bench)


def noop() -> None:
    """The no-op job of the comparison."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on port {port}")


def fresh_database() -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    admin.dispose()
    return f"{PG_SERVER}/{DATABASE}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--fork", action="store_true", help="workers fork a work horse per job (worker --fork)"
    )
    args = parser.parse_args()
    worker_command = ["worker", "--no-scheduler", *(["--fork"] if args.fork else [])]

    workdir = Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    database_url = fresh_database()
    sandbox_port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": SECRET_KEY,
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "OPERATOR_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}/v1",
        "PUBLIC_URL": "http://127.0.0.1:9",
    }
    os.environ.update(env)
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "portal"]
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "alembic"), "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([*flask, "seed"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    from aiosmtpd.controller import Controller
    from redis import Redis

    class Sink:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.received += 1
            return "250 OK"

    # The portal's logging set-up (development: INFO) would print every SMTP command.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    Redis.from_url(REDIS_URL).flushdb()
    processes = [
        subprocess.Popen(
            [*flask, "operator-sandbox", "--port", str(sandbox_port), "--store",
             str(workdir / "operator.sqlite3")],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        wait_for_port(sandbox_port)
        processes += [
            subprocess.Popen(
                [*flask, *worker_command],
                cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]  # fmt: skip
        orders_per_second = run_orders(args.orders)
        noop_per_second = run_noops(args.orders)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        smtp.stop()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"workers: {args.workers} x flask --app portal {' '.join(worker_command)}")
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs")
    print(f"orders: {args.orders} in the pipeline with {args.workers} workers")
    print(f"orders/s (submitted -> active, e-mail sent): {orders_per_second:.1f}")
    print(f"no-op jobs/s: {noop_per_second:.1f}")
    print(f"ratio orders/s : no-op jobs/s = {orders_per_second / noop_per_second:.3f}")
    print(f"e-mails received by the SMTP sink: {Sink.received}")


def run_orders(count: int) -> float:
    import sqlalchemy as sa
    from sqlmodel import select

    from portal.accounts.models import Account, Professional
    from portal.app import create_app
    from portal.catalogue.models import Offer, OfferRevision, Operator
    from portal.db import session_scope
    from portal.mail.models import OutboxMessage
    from portal.provisioning.pipeline import start_provisioning
    from portal.subscriptions import states
    from portal.subscriptions.models import Order, OrderLine, OrderState

    app = create_app()
    with app.app_context(), session_scope() as session:
        operator = Operator(
            slug="bench-operator",
            name="Bench operator",
            kind="commercial",
            mail_domains=["bench.mssante.fr"],
            adapter_kind="mss-provisioning-v1",
            adapter_settings={"reference_operator": True},
        )
        session.add(operator)
        session.flush()
        offer = Offer(slug="bench-offer", name="Bench offer", operator_id=operator.id,
                      mailbox_types=["PER"], status="published")  # fmt: skip
        session.add(offer)
        session.flush()
        revision = OfferRevision(offer_id=offer.id, price_cents=0)
        session.add(revision)
        session.flush()
        offer.current_revision_id = revision.id
        for n in range(count):
            rpps = f"{20000000000 + n}"
            professional = Professional(idnps=f"8{rpps}", rpps=rpps, first_name="Banc",
                                        last_name=f"Essai{n}", profession_code="10")  # fmt: skip
            session.add(professional)
            session.flush()
            account = Account(email=f"banc{n}@example.org", display_name=f"Banc {n}",
                              professional_id=professional.id)  # fmt: skip
            session.add(account)
            session.flush()
            order = Order(idempotency_key=uuid.uuid4().hex, account_id=account.id,
                          professional_id=professional.id, offer_revision_id=revision.id)  # fmt: skip
            session.add(order)
            session.flush()
            session.add(OrderLine(order_id=order.id, mailbox_type="PER",
                                  address=f"banc.essai{n}@bench.mssante.fr"))  # fmt: skip
            states.transition(session, order, OrderState.SUBMITTED, actor="bench")
    with app.app_context(), session_scope() as session:
        orders = list(session.exec(select(Order).where(Order.state == OrderState.SUBMITTED)))
        started = time.monotonic()
        for order in orders:
            start_provisioning(session, order, actor="bench")
        session.commit()  # the jobs are handed to Redis here
        deadline = started + 1800
        while time.monotonic() < deadline:
            active = session.scalar(
                sa.select(sa.func.count())
                .select_from(Order)
                .where(Order.state == OrderState.ACTIVE)
            )
            sent = session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "sent")
            )
            stuck = session.scalar(
                sa.select(sa.func.count())
                .select_from(Order)
                .where(Order.state == OrderState.NEEDS_ATTENTION)
            )
            if stuck:
                raise SystemExit(f"{stuck} orders need attention: see the workers' log")
            if active == count and sent == count:
                break
            session.rollback()
            time.sleep(0.05)
        else:
            raise SystemExit(f"only {active} orders active after 30 minutes")
        elapsed = time.monotonic() - started
    return count / elapsed


def run_noops(count: int) -> float:
    from redis import Redis
    from rq import Queue

    from portal.queue import run_job

    connection = Redis.from_url(REDIS_URL)
    queue = Queue("provisioning", connection=connection)
    done_before = queue.finished_job_registry.count
    started = time.monotonic()
    for _ in range(count):
        queue.enqueue(run_job, "bench.provisioning:noop", result_ttl=600)
    while queue.finished_job_registry.count - done_before < count:
        if time.monotonic() - started > 600:
            raise SystemExit("no-op jobs did not finish in 10 minutes")
        time.sleep(0.02)
    return count / (time.monotonic() - started)


if __name__ == "__main__":
    main()
