"""Benchmark: orders through the real provisioning pipeline versus no-op rq jobs.

Runs, on this machine only (127.0.0.1):

- PostgreSQL database ``bench_provisioning`` (dropped and recreated, migrated, seeded);
- Redis database 5, or ``BENCH_REDIS_URL`` (emptied);
- the reference operator (``flask --app portal operator-sandbox``) over HTTP, its own SQLite;
- an SMTP sink (aiosmtpd) receiving the confirmation e-mails;
- two ``flask --app portal worker --no-scheduler`` processes (with ``--fork``: a forked work
  horse per job instead of running jobs in the worker itself).

Then it times, with the same two workers:

1. N orders (default 1,000) from ``submitted`` to ``active`` with their e-mail sent, handed to
   the workers one transaction each, as people's submissions are: per order
   one creation job (HTTP call to the operator, then, in the same transaction, the directory
   entry, the activation and the outbox message), whose follow-up sends the e-mail (SMTP) in
   the same worker right after the commit;
2. N no-op jobs through the same job wrapper (``portal.queue.run_job``);
3. N *floor* jobs (:func:`floor_order`): only the input/output an order cannot do without.

With ``--sql-sketch``, between 1 and 2: N more orders whose creation job and e-mail are the
SQL-text sketch of ``bench/sql_sketch.py`` (decision 0006, option 1), submitted by the portal,
then N more with the submission in SQL text too.

It prints orders per second, no-op jobs per second and their ratio, the floor's ratio (what no
implementation of the pipeline can beat with these services on this machine), and the CPU time
each process used per job in each phase. Usage::

    .venv/bin/python bench/provisioning.py [--orders 1000] [--workers 2] [--fork] [--sql-sketch]
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
from email.mime.text import MIMEText
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "bench_provisioning"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
SECRET_KEY = "bench-provisioning-secret-key-not-for-production-0123456789"  # noqa: S105 (local bench)


def noop() -> None:
    """The no-op job of the comparison."""


_reference_adapter = None


def reference_adapter():
    """This worker's adapter for the reference operator (made once, for the bench's own jobs)."""
    from flask import current_app

    from portal.provisioning.adapters.standard import StandardProvisioningAdapter
    from portal.provisioning.registry import SANDBOX_TOKEN_PURPOSE
    from portal.provisioning.secrets import derived_secret

    global _reference_adapter
    if _reference_adapter is None:
        settings = current_app.config["PORTAL_SETTINGS"]
        _reference_adapter = StandardProvisioningAdapter(
            base_url=settings.operator_sandbox_url,
            token=derived_secret(settings.secret_key, SANDBOX_TOKEN_PURPOSE),
        )
    return _reference_adapter


def floor_order(n: int) -> None:
    """The floor of the comparison: only the input/output one order cannot do without.

    One creation call to the reference operator over HTTP (through the real adapter), one
    statement recording its answer in PostgreSQL, and one small e-mail to the SMTP sink. No
    ORM, no directory entry, no order history, no template: no implementation of the pipeline
    can do less, so its rate bounds what the pipeline can reach with these services here.
    """
    import sqlalchemy as sa
    from flask import current_app

    from portal.db import database
    from portal.mail.services import deliver_smtp
    from portal.provisioning.interfaces import Holder, MailboxRequest

    settings = current_app.config["PORTAL_SETTINGS"]
    address = f"plancher.{n}@bench.mssante.fr"
    holder = Holder(idnps=f"8{30000000000 + n}", first_name="Plancher", last_name=f"N{n}")
    remote = reference_adapter().create_mailbox(
        MailboxRequest(address=address, mailbox_type="PER", holder=holder), f"bench-floor-{n:08d}"
    )
    with database().engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE orders SET state_changed_at = now() WHERE id = :id"),
            {"id": n % 1000 + 1},
        )
    email = MIMEText(f"{remote.external_id}\n", "plain", "us-ascii")
    email["From"], email["To"], email["Subject"] = settings.mail_from, address, "Floor"
    deliver_smtp(email, settings.mail_url)


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
    parser.add_argument(
        "--sql-sketch",
        action="store_true",
        help="also time orders through bench/sql_sketch.py (decision 0006, option 1)",
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
        meters = CpuMeters(processes, database_url)
        pipeline_orders = make_orders(args.orders)
        orders_per_second = run_orders(pipeline_orders, meters, "orders")
        sketches = {}
        if args.sql_sketch:
            from bench import sql_sketch

            first = args.orders
            for name, submit in (
                ("SQL-text jobs", sql_sketch.submit_to_sketch),
                ("SQL-text jobs and submissions", sql_sketch.submit_in_sql),
            ):
                order_ids = make_orders(args.orders, first=first)
                sketches[name] = run_orders(order_ids, meters, name, submit)
                check_same_rows(pipeline_orders[0], order_ids[0], first)
                first += args.orders
        noop_per_second = run_jobs("bench.provisioning:noop", args.orders, meters, "no-op jobs")
        floor_per_second = run_jobs(
            "bench.provisioning:floor_order", args.orders, meters, "floor jobs"
        )
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
    print(f"floor jobs/s (operator call, one statement, one e-mail): {floor_per_second:.1f}")
    print(f"ratio floor jobs/s : no-op jobs/s = {floor_per_second / noop_per_second:.3f}")
    for name, per_second in sketches.items():
        print(f"sketch, orders with {name} (bench/sql_sketch.py): {per_second:.1f}/s, ratio "
              f"{per_second / noop_per_second:.3f}")  # fmt: skip
    if sketches:
        print("sketch rows: the same as the pipeline's (compared on one order of each phase)")
    print(f"e-mails received by the SMTP sink: {Sink.received} (every phase but the no-op jobs)")
    meters.report(args.orders)


class CpuMeters:
    """CPU seconds used by each process of the run during each timed phase (from /proc)."""

    def __init__(self, processes: list[subprocess.Popen], database_url: str):
        import sqlalchemy as sa
        from redis import Redis

        self.pids = {"reference operator": [processes[0].pid]}
        self.pids["workers"] = [process.pid for process in processes[1:]]
        self.pids["bench (submissions, SMTP sink)"] = [os.getpid()]
        self.pids["redis-server"] = [Redis.from_url(REDIS_URL).info("server")["process_id"]]
        self.engine = sa.create_engine(database_url)
        self.started: dict[str, float] = {}
        self.phases: dict[str, dict[str, float]] = {}

    def _postgres_pids(self) -> list[int]:
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            return list(connection.scalars(sa.text(query)))

    def _sample(self) -> dict[str, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        groups = {**self.pids, "postgresql backends": self._postgres_pids()}
        seconds: dict[str, float] = {}
        for name, pids in groups.items():
            total = 0.0
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # ended
                # utime, stime, and those of reaped children (--fork's work horses).
                total += sum(int(value) for value in fields[11:15]) / ticks
            seconds[name] = total
        return seconds

    def start(self) -> None:
        self.started = self._sample()

    def stop(self, phase: str, elapsed: float) -> None:
        ended = self._sample()
        self.phases[phase] = {name: ended[name] - self.started.get(name, 0.0) for name in ended}
        self.phases[phase]["(wall clock)"] = elapsed

    def report(self, count: int) -> None:
        if not Path("/proc/self/stat").exists():
            return
        print(f"CPU milliseconds per {' / '.join(self.phases)} ({os.cpu_count()} CPUs):")
        names = list(next(iter(self.phases.values())))
        for name in names:
            figures = " / ".join(
                f"{1000 * phase[name] / count:7.2f}" for phase in self.phases.values()
            )
            print(f"  {name:<30} {figures}")


def make_orders(count: int, *, first: int = 0) -> list[int]:
    """``count`` submitted orders, each for its own professional, on a free offer of an operator
    of their own (``first``: the number of the first, so that each phase has new people)."""
    from portal.accounts.models import Account, Professional
    from portal.app import create_app
    from portal.catalogue.models import Offer, OfferRevision, Operator
    from portal.db import session_scope
    from portal.subscriptions import states
    from portal.subscriptions.models import Order, OrderLine, OrderState

    order_ids = []
    with create_app().app_context(), session_scope() as session:
        operator = Operator(
            slug=f"bench-operator-{first}",
            name="Bench operator",
            kind="commercial",
            mail_domains=["bench.mssante.fr"],
            adapter_kind="mss-provisioning-v1",
            adapter_settings={"reference_operator": True},
        )
        session.add(operator)
        session.flush()
        offer = Offer(slug=f"bench-offer-{first}", name="Bench offer", operator_id=operator.id,
                      mailbox_types=["PER"], status="published")  # fmt: skip
        session.add(offer)
        session.flush()
        revision = OfferRevision(offer_id=offer.id, price_cents=0)
        session.add(revision)
        session.flush()
        offer.current_revision_id = revision.id
        for n in range(first, first + count):
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
            order_ids.append(order.id)
    return order_ids


def submit_to_pipeline(session, order_id: int) -> None:
    """A submission as the portal makes it: the order moves on, its creation job is queued."""
    from portal.provisioning.pipeline import start_provisioning
    from portal.subscriptions.models import Order

    start_provisioning(session, session.get(Order, order_id), actor="bench")


def run_orders(order_ids: list[int], meters: CpuMeters, phase: str, submit=submit_to_pipeline):
    """Submit the orders one transaction each and time them until all are active and e-mailed."""
    import sqlalchemy as sa

    from portal.app import create_app
    from portal.db import session_scope
    from portal.mail.models import OutboxMessage
    from portal.subscriptions.models import Order, OrderState

    def count(model, condition) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(condition))

    with create_app().app_context(), session_scope() as session:
        active_before = count(Order, Order.state == OrderState.ACTIVE)
        sent_before = count(OutboxMessage, OutboxMessage.status == "sent")
        session.commit()
        meters.start()
        started = time.monotonic()
        for order_id in order_ids:
            # One transaction per order, as when people submit them one by one: each job is
            # handed to Redis when its order commits, so the workers start at once.
            with session_scope() as submission:
                submit(submission, order_id)
        deadline = started + 1800
        while time.monotonic() < deadline:
            active = count(Order, Order.state == OrderState.ACTIVE) - active_before
            sent = count(OutboxMessage, OutboxMessage.status == "sent") - sent_before
            stuck = count(Order, Order.state == OrderState.NEEDS_ATTENTION)
            if stuck:
                raise SystemExit(f"{stuck} orders need attention: see the workers' log")
            if active == len(order_ids) and sent == len(order_ids):
                break
            session.rollback()
            time.sleep(0.05)
        else:
            raise SystemExit(f"{phase}: only {active} orders active after 30 minutes")
        elapsed = time.monotonic() - started
        meters.stop(phase, elapsed)
    return len(order_ids) / elapsed


def check_same_rows(pipeline_order: int, sketch_order: int, sketch_person: int) -> None:
    """Stop the bench unless a sketch order wrote the rows the pipeline wrote for its first
    order (ids, times and the person's own number aside)."""
    from bench.sql_sketch import rows_of
    from portal.app import create_app
    from portal.db import session_scope

    with create_app().app_context(), session_scope() as session:
        expected = rows_of(session, pipeline_order, 0)
        written = rows_of(session, sketch_order, sketch_person)
    differences = [table for table in expected if expected[table] != written[table]]
    if differences:
        for table in differences:
            print(f"{table}:\n  pipeline {expected[table]}\n  sketch   {written[table]}")
        raise SystemExit(f"the sketch's rows differ from the pipeline's in {differences}")


def run_jobs(function: str, count: int, meters: CpuMeters, phase: str) -> float:
    """Enqueue ``count`` jobs ``function(n)`` (``function()`` for the no-op) and time them."""
    from redis import Redis
    from rq import Queue

    from portal.queue import run_job

    connection = Redis.from_url(REDIS_URL)
    queue = Queue("provisioning", connection=connection)
    done_before = queue.finished_job_registry.count
    meters.start()
    started = time.monotonic()
    for n in range(count):
        arguments = () if function.endswith(":noop") else (n,)
        queue.enqueue(run_job, function, *arguments, result_ttl=600)
    while queue.finished_job_registry.count - done_before < count:
        if queue.failed_job_registry.count:
            raise SystemExit(f"{phase}: a job failed; see the workers' log")
        if time.monotonic() - started > 600:
            raise SystemExit(f"{phase}: the jobs did not finish in 10 minutes")
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    meters.stop(phase, elapsed)
    return count / elapsed


if __name__ == "__main__":
    main()
