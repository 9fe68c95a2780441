"""Directory: entries, import/export of the national extraction, search, FHIR read/PATCH API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.directory.fhir_api import blueprint as fhir_blueprint

    app.register_blueprint(fhir_blueprint)
