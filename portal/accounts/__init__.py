"""Accounts: who people are (Pro Santé Connect, e-mail and password), their roles, and the
development identity provider that stands in for PSC outside production."""

from __future__ import annotations

import contextlib

import click
from flask import Flask
from flask.cli import AppGroup


def init_app(app: Flask) -> None:
    from portal.accounts import policy, psc_client
    from portal.accounts.backoffice import admin, operator_space, region_space
    from portal.accounts.session import current_account
    from portal.accounts.views import blueprint

    settings = app.config["PORTAL_SETTINGS"]
    psc_client.init_app(app, settings)
    app.register_blueprint(blueprint)
    for back_office in (admin, region_space, operator_space):
        app.register_blueprint(back_office)
    policy.init_app(app)
    app.cli.add_command(accounts_cli)
    app.jinja_env.globals["current_account"] = current_account
    if settings.is_development_like:
        app.cli.add_command(dev_idp_command)


@click.command("dev-idp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, help="0: any free port (printed).")
@click.option("--client-id", default=None, help="Client id the portal uses (PSC_CLIENT_ID).")
@click.option("--client-secret", default=None, help="Its secret (PSC_CLIENT_SECRET).")
@click.option("--signed-userinfo", is_flag=True, help="Answer UserInfo as a signed JWT.")
def dev_idp_command(
    host: str, port: int, client_id: str | None, client_secret: str | None, signed_userinfo: bool
) -> None:
    """Serve the development identity provider (a stand-in for Pro Santé Connect)."""
    from flask import current_app

    from portal.accounts import devidp

    settings = current_app.config["PORTAL_SETTINGS"]
    app = devidp.create_dev_idp_app(
        portal_env=settings.portal_env,
        client_id=client_id or settings.psc_client_id or devidp.DEV_CLIENT_ID,
        client_secret=client_secret or settings.psc_client_secret or devidp.DEV_CLIENT_SECRET,
        signed_userinfo=signed_userinfo,
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


accounts_cli = AppGroup("accounts", help="Back-office accounts.")


@accounts_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default=None, help="Display name (default: the part before @).")
@click.option(
    "--invite",
    is_flag=True,
    help="E-mail an invitation link instead of asking for a password here.",
)
def create_admin_command(email: str, name: str | None, invite: bool) -> None:
    """Create a platform administrator (the first one, typically)."""
    from email_validator import EmailNotValidError, validate_email
    from flask import current_app
    from sqlmodel import select

    from portal.accounts import passwords, tokens
    from portal.accounts.models import Account, Role
    from portal.db import session_scope

    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise click.ClickException(f"{email!r} is not a valid e-mail address: {error}") from error
    settings = current_app.config["PORTAL_SETTINGS"]
    # Messages and e-mails are rendered as for a request (French, the default language).
    with current_app.test_request_context("/"), session_scope() as session:
        existing = session.exec(select(Account).where(Account.email == email)).first()
        if invite:
            if existing is not None:
                raise click.ClickException(
                    f"An account already exists for {email}; run without --invite to make it "
                    "a platform administrator."
                )
            tokens.invite(
                session,
                email=email,
                role=Role.PLATFORM_ADMIN,
                scope={},
                invited_by=None,
                locale="fr",
                public_url=settings.public_url,
            )
            click.echo(
                f"Invitation e-mailed to {email} (valid {tokens.INVITATION_LIFETIME.days} days)."
            )
            return
        account = existing
        if account is None:
            while True:
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
                problem = passwords.password_problem(password, email=email)
                if problem is None:
                    break
                click.echo(problem, err=True)
            account = Account(
                email=email,
                display_name=name or email.split("@")[0],
                password_hash=passwords.hash_password(password),
            )
            session.add(account)
            session.flush()
        tokens.grant(session, account, role=Role.PLATFORM_ADMIN, scope={}, actor=None)
    click.echo(f"{email} is a platform administrator. Sign in at {settings.public_url}/connexion")
