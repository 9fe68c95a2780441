"""Home and legal pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.catalogue.services import catalogue_finder, catalogue_summary
from portal.db import get_session

blueprint = Blueprint("site", __name__)


@blueprint.get("/")
def home():
    session = get_session()
    return render_template(
        "site/home.html",
        summary=catalogue_summary(session),
        finder=catalogue_finder(session=session),
    )


@blueprint.get("/accessibilite")
def accessibility():
    return render_template("site/accessibility.html")


@blueprint.get("/mentions-legales")
def legal():
    return render_template("site/legal.html")
