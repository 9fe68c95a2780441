"""Time to check and to order a region's bulk file of 10,000 structures.

    .venv/bin/python bench/bulk_orders.py [--lines 10000] [--database sqlite|postgresql]

What it does, and undoes:
1. creates a fresh database (a SQLite file in a temporary folder, or the PostgreSQL database
   ``bench_bulk_orders`` on ``BENCH_POSTGRES_URL``, default
   postgresql://postgres@127.0.0.1:5432/postgres), migrates it with Alembic and loads the seed;
2. adds an operator, an ORG offer and a free programme of Bretagne with a quota large enough;
3. builds a Windows-1252 file of ``--lines`` pharmacies (two mailboxes each) and times
   :func:`portal.regions.bulk.read_bulk_file` (the per-line report), then
   :func:`portal.regions.bulk_orders.order_bulk` and the commit (one transaction), then the
   same ordering again (the idempotent re-upload, which must create nothing);
4. prints the three durations and the number of orders, then drops what it created.
Jobs enqueued for provisioning stay in memory (queue runner ``manual``) and are not run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()

    import sqlalchemy as sa
    from alembic import command
    from sqlmodel import func, select

    from portal.accounts.models import Account
    from portal.app import create_app
    from portal.config import Settings
    from portal.db import session_scope
    from portal.regions import bulk, bulk_orders
    from portal.regions.models import BulkUpload, SubsidyProgramme
    from portal.seed import seed_database
    from portal.subscriptions.models import Order
    from tests.conftest import alembic_config
    from tests.factories import make_account, make_offer, make_operator

    folder = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    server = None
    if args.database == "sqlite":
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    else:
        server = sa.engine.make_url(
            os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        )
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql('DROP DATABASE IF EXISTS "bench_bulk_orders" WITH (FORCE)')
            connection.exec_driver_sql('CREATE DATABASE "bench_bulk_orders"')
        url = server.set(database="bench_bulk_orders").render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "head")
        app = create_app(
            Settings(portal_env="test", database_url=url, instance_dir=folder).with_overrides()
        )
        with app.app_context():
            with session_scope(app) as session:
                seed_database(session)
                operator = make_operator(session, mail_domains=["bench.mssante.fr"])
                offer = make_offer(session, operator=operator, mailbox_types=["ORG"])
                programme = SubsidyProgramme(
                    slug="bench-bulk",
                    region_code="53",
                    offer_id=offer.id,
                    name={"fr": "Banc", "en": "Bench"},
                    rule="free",
                    quota_mailboxes=3 * args.lines,
                    status="published",
                )
                session.add(programme)
                account = make_account(session)
                session.flush()
                ids = programme.id, account.id
            header = ";".join(bulk.TEMPLATE_HEADER)
            rows = [
                f"29{n:07d};;pharmacie;Pharmacie n°{n};29;officine|secretariat;Titulaire {n};p{n}@example.org"
                for n in range(args.lines)
            ]
            content = ("\r\n".join([header, *rows]) + "\r\n").encode("cp1252")

            with session_scope(app) as session:
                started = time.perf_counter()
                report = bulk.read_bulk_file(content, session=session, region_code="53")
                checked = time.perf_counter() - started
                upload = BulkUpload(
                    region_code="53",
                    programme_id=ids[0],
                    account_id=ids[1],
                    filename="bench.csv",
                    sha256=report.sha256,
                    content=content,
                    valid_lines=len(report.valid),
                    invalid_lines=len(report.invalid),
                )
                session.add(upload)
                session.flush()
                upload_id = upload.id
            timings = []
            for _round in range(2):
                with app.test_request_context(), session_scope(app) as session:
                    started = time.perf_counter()
                    result = bulk_orders.order_bulk(
                        session=session,
                        upload=session.get(BulkUpload, upload_id),
                        account=session.get(Account, ids[1]),
                    )
                    session.commit()
                    timings.append((time.perf_counter() - started, result))
            with session_scope(app) as session:
                orders = session.exec(select(func.count(Order.id))).one()
        print(f"database: {args.database}; lines: {args.lines}")
        print(f"per-line report: {checked:.2f} s ({len(report.valid)} valid lines)")
        print(
            f"ordering in one transaction: {timings[0][0]:.2f} s "
            f"({timings[0][1].created} orders, {timings[0][1].mailboxes} mailboxes)"
        )
        print(
            f"same file again: {timings[1][0]:.2f} s "
            f"({timings[1][1].created} new orders, {timings[1][1].already_ordered} already ordered)"
        )
        print(f"orders in the database: {orders}")
    finally:
        if server is not None:
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(
                    'DROP DATABASE IF EXISTS "bench_bulk_orders" WITH (FORCE)'
                )


if __name__ == "__main__":
    main()
