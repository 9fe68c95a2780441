"""Subscriptions: eligibility, addresses, quotes, orders and their state machine, the flow."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.subscriptions.views import blueprint

    app.register_blueprint(blueprint)
