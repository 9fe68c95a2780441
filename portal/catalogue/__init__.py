"""Catalogue: operators, offers and their revisions, the comparison grid."""

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.catalogue.views import blueprint

    app.register_blueprint(blueprint)
