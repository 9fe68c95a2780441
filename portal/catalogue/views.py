"""Public catalogue pages: the catalogue, one offer, the comparison (and their CSV)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from portal.catalogue import exports, presenters
from portal.catalogue.index import CatalogueIndex, current_index
from portal.catalogue.services import (
    MAX_COMPARED,
    comparison_request,
    find_offer,
    search_catalogue,
)
from portal.db import get_session
from portal.i18n import current_language

blueprint = Blueprint("catalogue", __name__)
_INDENTATION = re.compile(r"\n\s+")


def _page_body(index: CatalogueIndex, render: Callable[[], str]) -> Markup:
    """The page's body, rendered once per catalogue version, language and query.

    Bodies hold nothing personal (no account, no form token, no flashed message: those are in
    the frame around them), so every visitor asking the same URL gets the same HTML; the frame
    is rendered for each request.
    """
    key = (
        request.path,
        request.host_url,
        current_language(),
        tuple(sorted((k, v) for k, v in request.args.items(multi=True) if k != "lang")),
        dt.date.today(),
    )
    return Markup(index.fragments.get_or_render(key, lambda: _compact(render())))  # noqa: S704


def _compact(html: str) -> str:
    """Indentation out (the bodies hold no <pre> or <textarea>): a quarter less to send."""
    return _INDENTATION.sub("\n", html)


def _offers_url(query: list[tuple[str, str]]) -> str:
    return url_for("catalogue.offers") + (f"?{urlencode(query)}" if query else "")


@blueprint.get("/offres")
def offers():
    if request.args.get("format") == "csv":
        index, result = search_catalogue(session=get_session(), args=request.args)
        return exports.csv_response(
            exports.catalogue_rows(result.all_entries, index), "offres-mssante.csv"
        )
    index = current_index(get_session())
    return render_template("catalogue/offers.html", content=_page_body(index, _offers_body))


def _offers_body() -> str:
    index, result = search_catalogue(session=get_session(), args=request.args)
    state = result.state
    notices = presenters.ignored_messages(index, state)
    wanted = request.args.get("format")
    if wanted:
        notices.append(
            _("Le format « %(format)s » n’existe pas ; la page est affichée.", format=wanted[:20])
        )
    if result.page_clamped:
        notices.append(
            _(
                "La page %(asked)d n’existe pas ; voici la page %(page)d.",
                asked=state.page,
                page=result.page,
            )
        )
    region = state.region_code
    department = state.first("departement")
    cards = [
        presenters.offer_card(entry, index, region=region, department=department)
        for entry in result.entries
    ]
    active = presenters.active_filters(index, result, _offers_url)
    return render_template(
        "catalogue/_offers_content.html",
        result=result,
        cards=cards,
        fieldsets=presenters.filter_form(index, result),
        active=active,
        relax=sorted(
            (a for a in active if a.results_without), key=lambda a: -(a.results_without or 0)
        ),
        notices=notices,
        sorts=presenters.sort_choices(state),
        page_url=lambda page: _offers_url(state.query(page=page)),
        csv_url=_offers_url([*state.query(), ("format", "csv")]),
        max_compared=MAX_COMPARED,
    )


@blueprint.get("/offres/<slug>")
def offer(slug: str):
    index, entry = find_offer(session=get_session(), slug=slug)
    if entry is None:
        abort(404)
    body = _page_body(index, lambda: _offer_body(index, entry))
    return render_template("catalogue/offer.html", entry=entry, content=body)


def _offer_body(index: CatalogueIndex, entry) -> str:
    department = request.args.get("departement", "")
    region = request.args.get("region", "")
    notices = []
    if department:
        if department in index.department_by_code:
            region = index.region_of(department) or ""
        else:
            notices.append(_("Ce département n’existe pas ; il a été ignoré."))
            department = ""
    if region and region not in index.region_names:
        notices.append(_("Cette région n’existe pas ; elle a été ignorée."))
        region = ""
    return render_template(
        "catalogue/_offer_content.html",
        entry=entry,
        card=presenters.offer_card(entry, index, region=region or None),
        groups=presenters.grid([entry], index),
        prices=presenters.price_breakdown(entry),
        subsidies=presenters.subsidies_in_region(entry, index, region or None),
        other_regions=sorted(
            {index.region_names.get(p.region_code, p.region_code) for p in entry.programmes}
            - {index.region_names.get(region)}
        ),
        eligibility=presenters.eligibility_lines(entry, index),
        operator_facts=presenters.operator_facts(entry),
        website=presenters.safe_website(entry.operator.website),
        subscribe_url=presenters.subscription_url(entry.slug),
        regions=index.regions,
        region=region,
        region_name=index.region_names.get(region),
        notices=notices,
    )


@blueprint.get("/comparer")
def compare():
    values = request.args.getlist("offres")
    index, asked = comparison_request(session=get_session(), values=values)
    notices = _comparison_notices(asked)
    only_differences = request.args.get("differences") == "1"
    wanted = request.args.get("format")
    if len(values) > 1 and not wanted:
        # The catalogue's checkboxes send offres=a&offres=b: answer with the short permalink.
        for notice in notices:
            flash(notice, "warning")
        return redirect(_compare_url(asked.slugs, only_differences))
    if wanted == "csv" and asked.enough:
        return exports.csv_response(
            exports.comparison_rows(asked.entries, index), "comparaison-offres-mssante.csv"
        )
    body = _page_body(index, lambda: _compare_body(index, asked, notices, only_differences))
    return render_template("catalogue/compare.html", content=body)


def _comparison_notices(asked) -> list[str]:
    notices = []
    if asked.unknown:
        notices.append(_("Offre inconnue ignorée : %(slugs)s.", slugs=", ".join(asked.unknown)))
    if asked.duplicates:
        notices.append(
            _(
                "Offre demandée plusieurs fois, comparée une seule fois : %(slugs)s.",
                slugs=", ".join(asked.duplicates),
            )
        )
    if asked.dropped:
        notices.append(
            _(
                "On compare au plus %(max)d offres ; retirée de la comparaison : %(names)s.",
                max=MAX_COMPARED,
                names=", ".join(asked.dropped),
            )
        )
    return notices


def _compare_body(index: CatalogueIndex, asked, notices: list[str], only_differences: bool) -> str:
    wanted = request.args.get("format")
    if wanted == "csv":
        notices = [
            *notices,
            _(
                "Choisissez au moins deux offres pour télécharger la comparaison en CSV ;"
                " la page est affichée."
            ),
        ]
    elif wanted:
        notices = [
            *notices,
            _("Le format « %(format)s » n’existe pas ; la page est affichée.", format=wanted[:20]),
        ]
    groups = presenters.grid(asked.entries, index) if asked.enough else []
    return render_template(
        "catalogue/_compare_content.html",
        asked=asked,
        cards=[presenters.offer_card(entry, index) for entry in asked.entries],
        groups=groups,
        differences=sum(group.differences for group in groups),
        only_differences=only_differences,
        notices=notices,
        permalink=url_for(
            "catalogue.compare", _external=True, **_compare_args(asked.slugs, only_differences)
        ),
        csv_url=url_for("catalogue.compare", format="csv", **_compare_args(asked.slugs, False)),
        remove_urls={
            slug: _compare_url([s for s in asked.slugs if s != slug], only_differences)
            for slug in asked.slugs
        },
        candidates=[e for e in index.entries if e not in asked.entries]
        if len(asked.entries) < MAX_COMPARED
        else [],
        max_compared=MAX_COMPARED,
    )


def _compare_args(slugs: list[str], only_differences: bool) -> dict[str, str]:
    args = {"offres": ",".join(slugs)} if slugs else {}
    if only_differences:
        args["differences"] = "1"
    return args


def _compare_url(slugs: list[str], only_differences: bool) -> str:
    return url_for("catalogue.compare", **_compare_args(slugs, only_differences))
