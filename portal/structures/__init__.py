"""Structures' own space: their mailboxes, orders, and who may use each mailbox."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.structures.views import blueprint

    app.register_blueprint(blueprint)
