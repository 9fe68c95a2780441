"""Requests per second of the catalogue against a hello-world route, under gunicorn and PostgreSQL.

    .venv/bin/python bench/catalogue.py [--offers 500] [--seconds 6] [--rounds 3]

What it does, and undoes:
1. creates the PostgreSQL database ``bench_catalogue`` (dropped first if a previous run left it),
   migrates it with Alembic, loads the seed and adds synthetic published offers up to
   ``--offers`` (fixed random seed, so runs compare);
2. starts gunicorn on a free loopback port with the portal plus one extra route,
   ``/_bench/hello``, that returns "Hello, world!" — same application, same workers, same
   middleware, so the ratio measures what the catalogue pages themselves cost;
3. after a short warm-up (each gunicorn worker builds its catalogue index on its first
   request), from a second process, sends a bounded load (``--concurrency`` connections for
   ``--seconds``) to each URL in turn, ``--rounds`` times, and keeps each URL's median round:
   the hello route, ``/offres`` with three filters, ``/comparer`` with four offers, and, for
   information, ``/offres`` with a query that changes on every request (no rendered page
   can be reused: the cost of a first visit);
4. prints requests/second, latency percentiles and both ratios, then stops gunicorn and drops
   the database.

Settings: ``BENCH_POSTGRES_URL`` (a server URL, default postgresql://postgres@127.0.0.1:5432/postgres)
and ``BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/1). Target: each ratio ≥ 0.3.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_catalogue"
OFFERS_QUERY = "/offres?region=84&type=PER&fonction=mobile_app"
HELLO = "/_bench/hello"


def bench_app():
    """The WSGI application gunicorn serves: the portal plus the hello-world route."""
    from portal.app import create_app

    app = create_app()
    app.add_url_rule(HELLO, "bench_hello", lambda: "Hello, world!")
    return app


# --- the database ----------------------------------------------------------------------------


def _server_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _database_url(name: str) -> str:
    import sqlalchemy as sa

    return (
        sa.engine.make_url(_server_url()).set(database=name).render_as_string(hide_password=False)
    )


def _admin(statement: str) -> None:
    import sqlalchemy as sa

    url = sa.engine.make_url(_server_url()).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def create_database(offers: int) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DATABASE}"')
    env = {**os.environ, "DATABASE_URL": _database_url(DATABASE)}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    from sqlmodel import Session

    from portal.config import Settings
    from portal.db import create_engine
    from portal.seed import seed_database

    settings = Settings(database_url=_database_url(DATABASE)).with_overrides()
    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        seed_database(session)
        session.commit()
        add_synthetic_offers(session, offers)
        session.commit()
    engine.dispose()


def add_synthetic_offers(session, target: int) -> None:
    """Published offers with varied audiences, prices and features, up to ``target``."""
    from sqlmodel import func, select

    from portal.catalogue.models import (
        ComparisonAttribute,
        Department,
        Offer,
        OfferRevision,
        OfferStatus,
        Operator,
        Region,
    )
    from portal.db import utcnow

    rng = random.Random(20261125)
    have = session.exec(
        select(func.count(Offer.id)).where(Offer.status == OfferStatus.PUBLISHED)
    ).one()
    operators = session.exec(select(Operator)).all()
    regions = [r.code for r in session.exec(select(Region)).all()]
    departments = [d.code for d in session.exec(select(Department)).all()]
    attributes = [
        a for a in session.exec(select(ComparisonAttribute)).all() if a.source == "features"
    ]
    software = [
        "LogiDoc Démo",
        "MédiCabinet Démo",
        "OfficinaPlus Démo",
        "PodoGest Démo",
        "LaboLien Démo",
    ]
    structures = [
        "msp",
        "centre_sante",
        "pharmacie",
        "laboratoire",
        "ehpad_medico_social",
        "cabinet_groupe",
    ]
    for n in range(target - have):
        types = rng.choice([["PER"], ["PER", "ORG"], ["ORG"], ["APP"], ["ORG", "APP"]])
        coverage = rng.random()
        offer = Offer(
            slug=f"synthetique-{n:04d}",
            name=f"Offre synthétique {n:04d} (banc d’essai)",
            demo=True,
            operator_id=rng.choice(operators).id,
            mailbox_types=types,
            professions=rng.choice([[], ["10"], ["21"], ["60", "70"], ["10", "50"]]),
            structure_types=rng.sample(structures, rng.randint(0, 3))
            if "PER" not in types or rng.random() < 0.3
            else [],
            coverage_national=coverage < 0.4,
            coverage_regions=[rng.choice(regions)] if 0.4 <= coverage < 0.7 else [],
            coverage_departments=rng.sample(departments, rng.randint(1, 3))
            if coverage >= 0.7
            else [],
            status=OfferStatus.PUBLISHED,
        )
        session.add(offer)
        session.flush()
        features = {}
        for attribute in attributes:
            if attribute.type == "boolean":
                features[attribute.key] = rng.choice([True, True, False, None])
            elif attribute.type == "integer":
                features[attribute.key] = rng.choice([None, 5, 10, 20, 30, 50, 90, 365])
            elif attribute.localized:
                features[attribute.key] = {"fr": "Valeur de démonstration", "en": "Demo value"}
            elif attribute.options:
                values = [o["value"] for o in attribute.options]
                features[attribute.key] = rng.sample(values, rng.randint(1, len(values)))
            else:
                features[attribute.key] = rng.sample(software, rng.randint(0, 3))
        revision = OfferRevision(
            offer_id=offer.id,
            price_cents=rng.choice([0, 200, 350, 450, 690, 890, 1200]),
            billing_period=rng.choice(["month", "month", "month", "year"]),
            setup_fee_cents=rng.choice([0, 0, 0, 4900]),
            commitment_months=rng.choice([0, 0, 12]),
            features=features,
            summary={
                "fr": "Offre générée pour le banc d’essai.",
                "en": "Offer generated for the benchmark.",
            },
            description={"fr": "Offre fictive.", "en": "Fictional offer."},
            eligibility={"fr": "Banc d’essai.", "en": "Benchmark."},
            published_at=utcnow(),
        )
        session.add(revision)
        session.flush()
        offer.current_revision_id = revision.id
    session.flush()


def drop_database() -> None:
    _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "DATABASE_URL": _database_url(DATABASE),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "MAIL_URL": "smtp://127.0.0.1:2525",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PSC_CLIENT_ID": "bench",
        "PSC_CLIENT_SECRET": "bench",
        "PSC_METADATA_URL": "https://psc.example.invalid/.well-known/wallet-openid-configuration",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(ROOT / "bench"),
        "--log-level",
        "warning",
        "catalogue:bench_app()",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped while starting; see its messages above")
        try:
            if get(port, HELLO)[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit("gunicorn did not answer within 60 seconds")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# --- the load --------------------------------------------------------------------------------


def load(port: int, path: str, seconds: float, concurrency: int) -> dict:
    """``concurrency`` clients, each sending one request after the other for ``seconds``.

    A ``{n}`` in ``path`` becomes a new number for every request (a query never seen before)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    numbers = itertools.count(1000 + os.getpid() * 100_000)

    def client() -> None:
        nonlocal errors
        mine, failed = [], 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                status, _body = get(port, path.replace("{n}", str(next(numbers))))
            except OSError:
                status = 0
            if status == 200:
                mine.append(time.perf_counter() - started)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    return {
        "path": path,
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(0.50),
        "p95_ms": percentile(0.95),
    }


def measure_from_another_process(port: int, path: str, seconds: float, concurrency: int) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            path,
            "--port",
            str(port),
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep-database", action="store_true", help="leave bench_catalogue for profiling"
    )
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(args.port, args.load, args.seconds, args.concurrency)))
        return

    sys.path.insert(0, str(ROOT))
    print(
        f"Preparing PostgreSQL database {DATABASE} with {args.offers} published offers…", flush=True
    )
    create_database(args.offers)
    server = None
    try:
        port = free_port()
        server = start_gunicorn(port, args.workers)
        compare = compare_path()
        paths = {
            "hello": HELLO,
            "offres": OFFERS_QUERY,
            "comparer": compare,
            # Informational: every request a query no process has rendered yet (prix_max of
            # 10 € and more changes nothing to the results, only the cache key).
            "offres-cold": OFFERS_QUERY + "&prix_max={n}",
        }
        for name, path in paths.items():
            status, body = get(port, path.replace("{n}", "999"))
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
            if name == "offres":
                print(f"  {path}: {_result_heading(body)}")
        # Warm-up, not measured: every worker builds its catalogue index on its first request.
        for path in paths.values():
            measure_from_another_process(port, path, 2.0, args.concurrency)
        rounds: dict[str, list[dict]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():
                rounds[name].append(
                    measure_from_another_process(port, path, args.seconds, args.concurrency)
                )
        results = {
            name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            for name, runs in rounds.items()
        }
        print(
            f"\ngunicorn: {args.workers} sync workers on {os.cpu_count()} CPU(s); load: "
            f"{args.concurrency} connections × {args.seconds:g} s per URL, median of {args.rounds} rounds"
        )
        print(f"{'URL':<70} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
        for result in results.values():
            print(
                f"{result['path']:<70} {result['rps']:>8.1f} {result['p50_ms']:>8.1f} "
                f"{result['p95_ms']:>8.1f} {result['errors']:>7}"
            )
        hello = results["hello"]["rps"]
        for name in ("offres", "comparer"):
            ratio = results[name]["rps"] / hello
            verdict = "OK" if ratio >= 0.3 else "BELOW TARGET"
            print(f"ratio {name}/hello = {ratio:.2f}  (target ≥ 0.3: {verdict})")
        cold = results["offres-cold"]["rps"] / hello
        print(f"ratio offres-cold/hello = {cold:.2f}  (no target: every request renders the page)")
    finally:
        if server is not None:
            stop(server)
        if not args.keep_database:
            drop_database()


def compare_path() -> str:
    return "/comparer?offres=mailiz,horizon-cabinet,aura-messagerie-regionale,synthetique-0007"


def _result_heading(body: bytes) -> str:
    text = body.decode()
    start = text.index('data-testid="result-count">') + len('data-testid="result-count">')
    return text[start : text.index("<", start)].strip()


if __name__ == "__main__":
    main()
