"""Accounts: who people are (Pro Santé Connect, e-mail and password), their roles, and the
development identity provider that stands in for PSC outside production."""

from __future__ import annotations

import contextlib

import click
from flask import Flask


def init_app(app: Flask) -> None:
    from portal.accounts import psc_client
    from portal.accounts.session import current_account
    from portal.accounts.views import blueprint

    settings = app.config["PORTAL_SETTINGS"]
    psc_client.init_app(app, settings)
    app.register_blueprint(blueprint)
    app.jinja_env.globals["current_account"] = current_account
    if settings.is_development_like:
        app.cli.add_command(dev_idp_command)


@click.command("dev-idp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, help="0: any free port (printed).")
@click.option("--client-id", default=None, help="Client id the portal uses (PSC_CLIENT_ID).")
@click.option("--client-secret", default=None, help="Its secret (PSC_CLIENT_SECRET).")
def dev_idp_command(host: str, port: int, client_id: str | None, client_secret: str | None) -> None:
    """Serve the development identity provider (a stand-in for Pro Santé Connect)."""
    from flask import current_app

    from portal.accounts import devidp

    settings = current_app.config["PORTAL_SETTINGS"]
    app = devidp.create_dev_idp_app(
        portal_env=settings.portal_env,
        client_id=client_id or settings.psc_client_id or devidp.DEV_CLIENT_ID,
        client_secret=client_secret or settings.psc_client_secret or devidp.DEV_CLIENT_SECRET,
    )
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.port}"
    click.echo(f"Development identity provider: {base}", err=False)
    click.echo(f"PSC_METADATA_URL={devidp.metadata_url(base)}")
    import sys

    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
