"""Directory: entries, import/export of the national extraction, search, FHIR read/PATCH API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.directory import api  # noqa: F401  (attaches its routes to the API blueprint)
    from portal.directory.cli import directory_cli
    from portal.directory.fhir_api import blueprint as fhir_blueprint
    from portal.directory.views import blueprint

    app.register_blueprint(blueprint)
    app.register_blueprint(fhir_blueprint)
    app.cli.add_command(directory_cli)
