"""Directory pages: /annuaire (search, works without JavaScript) and the professional's own
addresses (preferred address, liste rouge)."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.accounts.session import current_account, current_professional, login_required
from portal.db import get_session
from portal.directory.search import SearchFilters, search_directory
from portal.directory.services import set_preferences
from portal.directory.writes import entries_of_professional

blueprint = Blueprint("directory", __name__)

MAILBOX_TYPE_LABELS = {
    "PER": _l("Personnelle"),
    "ORG": _l("Organisationnelle"),
    "APP": _l("Applicative"),
    "CAB": _l("Cabinet"),
}
PROFESSION_LABELS = {
    "10": _l("Médecin"),
    "21": _l("Pharmacien"),
    "40": _l("Chirurgien-dentiste"),
    "50": _l("Sage-femme"),
    "60": _l("Infirmier"),
    "70": _l("Masseur-kinésithérapeute"),
    "80": _l("Pédicure-podologue"),
}
_PLACE = re.compile(r"(\d{2}|2A|2B|\d{3}|\d{5})")


def filters_from(args) -> tuple[SearchFilters, list[str]]:
    """Search filters from a query string, and the sentences explaining what is wrong in it."""
    filters = SearchFilters(
        q=args.get("q", ""),
        profession=args.get("profession", ""),
        place=args.get("lieu", ""),
        mailbox_type=args.get("type", ""),
    )
    errors = []
    q = filters.q.strip()
    if q and len(re.sub(r"\W", "", q)) < 2:
        errors.append(_("Saisissez au moins 2 lettres ou chiffres pour chercher."))
    place = filters.place.strip().upper()
    if place and not _PLACE.fullmatch(place):
        errors.append(
            _(
                "« %(place)s » n’est ni un département (75, 2A, 971) ni un code postal à 5 chiffres.",
                place=filters.place,
            )
        )
    return filters, errors


def page_number(args) -> int:
    try:
        return max(1, min(int(args.get("page", 1)), 10000))
    except ValueError:
        return 1


@blueprint.get("/annuaire")
def search_page():
    filters, errors = filters_from(request.args)
    page = page_number(request.args)
    result = None
    if not errors and not filters.cleaned().empty:
        result = search_directory(get_session(), filters, page=page)
    args = {key: value for key, value in request.args.items() if key != "page" and value}

    def page_url(number: int) -> str:
        return url_for("directory.search_page", **args, page=number)

    return render_template(
        "directory/search.html",
        filters=filters,
        errors=errors,
        result=result,
        professions=PROFESSION_LABELS,
        mailbox_types=MAILBOX_TYPE_LABELS,
        page_url=page_url,
        max_results=format_decimal(result.cap) if result is not None else None,
    )


@blueprint.route("/annuaire/mes-adresses", methods=["GET", "POST"])
@login_required
def my_addresses():
    professional = current_professional()
    if professional is None:
        return render_template("directory/my_addresses.html", professional=None, entries=[]), 403
    session = get_session()
    errors: list[str] = []
    if request.method == "POST":
        result = set_preferences(
            session,
            idnps=professional.idnps,
            preferred_address=request.form.get("preferred") or None,
            liste_rouge_addresses=set(request.form.getlist("liste_rouge")),
            actor_account_id=current_account().id,
            ip_address=request.remote_addr,
        )
        if not result.errors:
            session.commit()
            if result.changes:
                flash(_("Vos choix sont enregistrés et visibles dans l’annuaire."), "success")
            else:
                flash(_("Aucun changement : vos choix étaient déjà enregistrés."), "info")
            return redirect(url_for("directory.my_addresses"))
        session.rollback()
        errors = result.errors
    entries = entries_of_professional(session, professional.idnps)
    chosen_preferred = request.form.get("preferred") if errors else None
    chosen_rouge = set(request.form.getlist("liste_rouge")) if errors else None
    return render_template(
        "directory/my_addresses.html",
        professional=professional,
        entries=entries,
        errors=errors,
        chosen_preferred=chosen_preferred,
        chosen_rouge=chosen_rouge,
        mailbox_types=MAILBOX_TYPE_LABELS,
    ), (400 if errors else 200)
