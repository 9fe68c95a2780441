"""Provisioning: operator adapters, the pipeline jobs, the reference operator, the reconciler."""

from __future__ import annotations

from flask import Flask

RECONCILE_EVERY_SECONDS = 120


def init_app(app: Flask) -> None:
    from portal.provisioning import cli
    from portal.provisioning.jobs import reconcile_orders
    from portal.provisioning.webhooks import blueprint
    from portal.queue import run_periodically

    app.register_blueprint(blueprint)
    app.cli.add_command(cli.operator_sandbox_command)
    app.cli.add_command(cli.reconcile_command)
    app.cli.add_command(cli.worker_command)
    # Without Redis the web process is also the worker: it runs the reconciler itself.
    run_periodically(app, reconcile_orders, every=RECONCILE_EVERY_SECONDS, queue="provisioning")
