"""The public observatory: national indicators, their charts and the open-data file."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.catalogue.exports import csv_response
from portal.db import get_session, utcnow
from portal.observatory import presenters
from portal.observatory.indicators import national_indicators

blueprint = Blueprint("observatory", __name__)


@blueprint.get("/observatoire")
def index():
    session = get_session()
    indicators = national_indicators(session=session)
    return render_template(
        "observatory/index.html",
        indicators=indicators,
        charts=presenters.national_charts(indicators, presenters.region_labels(session)),
        median_text=presenters.duration_text(indicators.median_time_to_active),
        share_text=presenters.share_text(indicators.subsidised_share),
    )


@blueprint.get("/observatoire/donnees.csv")
def open_data():
    indicators = national_indicators(session=get_session())
    filename = f"observatoire-mssante-{utcnow():%Y-%m-%d}.csv"
    return csv_response(presenters.open_data_rows(indicators), filename)
