"""Catalogue: operators, offers and their revisions, the comparison grid."""

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from portal.catalogue import api  # noqa: F401  (adds the offers routes to the API blueprint)
    from portal.catalogue.views import blueprint
    from portal.site import NAVIGATION

    app.register_blueprint(blueprint)
    if not any(endpoint == "catalogue.compare" for endpoint, _label in NAVIGATION):
        NAVIGATION.append(("catalogue.compare", _l("Comparer")))
