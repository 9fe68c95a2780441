"""Observatory: national indicators of the portal's activity, charts and open data."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_decimal


def init_app(app: Flask) -> None:
    from portal.observatory import counters
    from portal.observatory.views import blueprint

    app.register_blueprint(blueprint)
    counters.init_app(app)
    # Whole numbers as the reader's language writes them (12 345 in French, 12,345 in English).
    app.jinja_env.filters.setdefault("format_number", format_decimal)
