"""The JSON API under /api/v1/ and its OpenAPI document.

Each domain adds its routes to :data:`blueprint` and describes them with :func:`describe`;
``/api/v1/openapi.json`` is assembled from those descriptions, so the document cannot forget a
domain that registered itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify

from portal.extensions import csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(blueprint)  # read-only JSON; anything that writes authenticates on its own

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {}


def describe(
    paths: dict[str, dict[str, Any]], schemas: dict[str, dict[str, Any]] | None = None
) -> None:
    """Add OpenAPI path items (keys relative to /api/v1) and component schemas."""
    _PATHS.update(paths)
    _SCHEMAS.update(schemas or {})


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portail des offres MSSanté — API",
            "version": "1.0.0",
            "description": "Open data of the MSSanté offers portal. Licence Ouverte 2.0.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(_PATHS.items())),
        "components": {"schemas": dict(sorted(_SCHEMAS.items()))},
    }


@blueprint.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


def init_app(app: Flask) -> None:
    # Domains attach their API routes to the blueprint in their own init_app, which runs first.
    app.register_blueprint(blueprint)
