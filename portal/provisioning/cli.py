"""Commands: ``operator-sandbox``, ``reconcile`` and ``worker``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.db import database, schema_problem, session_scope


@click.command("operator-sandbox")
@click.option("--port", type=int, default=5001, show_default=True, help="Port on 127.0.0.1.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--store",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite file of the reference operator [default: instance/operator-sandbox.sqlite3].",
)
@with_appcontext
def operator_sandbox_command(port: int, host: str, store: str | None) -> None:
    """Serve the reference operator (standard provisioning API) for development and tests."""
    from werkzeug.serving import run_simple

    from portal.provisioning.sandbox import create_sandbox_app, sandbox_secrets

    settings = current_app.config["PORTAL_SETTINGS"]
    token, callback = sandbox_secrets(settings)
    path = store or str(settings.instance_dir / "operator-sandbox.sqlite3")
    from pathlib import Path

    sandbox = create_sandbox_app(store_path=Path(path), token=token, callback_secret=callback)
    click.echo(f"Reference operator: http://{host}:{port}/v1  (store {path})")
    run_simple(host, port, sandbox, threaded=True, use_reloader=False)


@click.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Hand orders and e-mails stuck beyond their deadline to the workers again."""
    from portal.provisioning.reconciler import reconcile

    with session_scope() as session:
        report = reconcile(session)
    for line in report.lines():
        click.echo(line)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Also run the scheduler (the periodic reconciler). Run exactly one in production.",
)
@click.option(
    "--reconcile-every",
    type=click.IntRange(min=5),
    default=120,
    show_default=True,
    help="Seconds between two runs of the reconciler.",
)
@click.option(
    "--fork/--no-fork",
    default=False,
    show_default=True,
    help="Run each job in a forked process (isolation) instead of in the worker (speed).",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many jobs (a supervisor starts a fresh worker).",
)
@with_appcontext
def worker_command(
    burst: bool, scheduler: bool, reconcile_every: int, fork: bool, max_jobs: int | None
) -> None:
    """Run background jobs from Redis (queues provisioning, mail, directory)."""
    from workers.rq_worker import run_worker

    settings = current_app.config["PORTAL_SETTINGS"]
    if not settings.redis_url:
        raise click.ClickException(
            "REDIS_URL is not set: without Redis, jobs run inside the web process. "
            "Set REDIS_URL to run separate workers."
        )
    problem = schema_problem(database().engine)
    if problem:
        raise click.ClickException(
            f"The database is not ready ({problem}). Run `alembic upgrade head`, then start "
            "the worker again."
        )
    run_worker(
        current_app._get_current_object(),
        burst=burst,
        with_scheduler=scheduler,
        reconcile_every=reconcile_every,
        fork=fork,
        max_jobs=max_jobs,
    )
