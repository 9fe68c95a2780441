"""`make run`: serve the portal on http://127.0.0.1:5000 with everything the journey needs.

Unless ``PSC_METADATA_URL`` is set, the development identity provider (a stand-in for Pro Santé
Connect) is served from a thread of this process on a free loopback port, and the portal is
pointed at it through ``PSC_METADATA_URL``/``PSC_CLIENT_ID``/``PSC_CLIENT_SECRET``, exactly as it
would be pointed at PSC. One command to start and stop, no second fixed port to collide with,
and the portal still reaches the provider over HTTP only, as in production. Tests start the
provider as a separate process instead (``flask --app portal dev-idp --port 0``).

The reference operator (the standard provisioning API that the seeded demo operators point at)
is served the same way, from a thread on a free loopback port, unless ``OPERATOR_SANDBOX_URL``
is set; it keeps its mailboxes in ``instance/operator-sandbox.sqlite3``.

``--port 0`` serves on any free port and prints the URL (tests use it).
"""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import make_server

from portal.app import create_app
from portal.db import database, schema_problem

HOST, PORT = "127.0.0.1", 5000


def start_development_identity_provider() -> str:
    """Serve the development identity provider from a thread; returns its base URL."""
    from portal.accounts import devidp

    idp = devidp.create_dev_idp_app(portal_env=os.environ["PORTAL_ENV"])
    server = devidp.serve_in_thread(idp, HOST, 0)
    base = f"http://{HOST}:{server.port}"
    os.environ["PSC_METADATA_URL"] = devidp.metadata_url(base)
    os.environ["PSC_CLIENT_ID"] = devidp.DEV_CLIENT_ID
    os.environ["PSC_CLIENT_SECRET"] = devidp.DEV_CLIENT_SECRET
    return base


def start_reference_operator() -> str:
    """Serve the reference operator from a thread; returns the base URL of its API."""
    import threading

    from portal.config import load_settings
    from portal.provisioning.sandbox import create_sandbox_app, sandbox_secrets

    settings = load_settings()
    token, callback = sandbox_secrets(settings)
    sandbox = create_sandbox_app(
        store_path=settings.instance_dir / "operator-sandbox.sqlite3",
        token=token,
        callback_secret=callback,
    )
    server = make_server(HOST, 0, sandbox, threaded=True)
    threading.Thread(target=server.serve_forever, name="reference-operator", daemon=True).start()
    url = f"http://{HOST}:{server.server_port}/v1"
    os.environ["OPERATOR_SANDBOX_URL"] = url
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=PORT, help="0: any free port")
    args = parser.parse_args(argv)
    os.environ.setdefault("PORTAL_ENV", "development")
    if not os.environ.get("PSC_METADATA_URL") and os.environ["PORTAL_ENV"] != "production":
        base = start_development_identity_provider()
        print(f"Development identity provider (stand-in for Pro Santé Connect): {base}", flush=True)
    if not os.environ.get("OPERATOR_SANDBOX_URL") and os.environ["PORTAL_ENV"] != "production":
        url = start_reference_operator()
        print(f"Reference operator (standard provisioning API): {url}", flush=True)
    if args.port:
        # Operators' status callbacks and e-mailed links come back to this server.
        os.environ.setdefault("PUBLIC_URL", f"http://{HOST}:{args.port}")
    app = create_app()
    problem = schema_problem(database(app).engine)
    if problem:
        # Every page would answer "Erreur inattendue": say what to do instead.
        raise SystemExit(
            f"The database is not ready ({problem}). Run `make migrate` "
            "(alembic upgrade head), then start again."
        )
    server = make_server(HOST, args.port, app, threaded=True)
    print(f"Portail des offres MSSanté: http://{HOST}:{server.port}/  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
