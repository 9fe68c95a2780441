"""Operator back-office: offers edited as drafts and published as new revisions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.operators.views import blueprint

    app.register_blueprint(blueprint)
