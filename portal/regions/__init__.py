"""Regions: subsidy programmes and the region back-office."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.regions.views import blueprint

    app.register_blueprint(blueprint)
