"""Public catalogue pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.catalogue.services import published_offers
from portal.db import get_session

blueprint = Blueprint("catalogue", __name__)


@blueprint.get("/offres")
def offers():
    return render_template("catalogue/offers.html", listings=published_offers(get_session()))
