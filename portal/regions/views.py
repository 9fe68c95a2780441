"""Region back-office pages under /espace-region/<region>/: subsidy programmes, dashboard,
bulk orders. Every route declares its policy; a region's staff only ever reach their region."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms.fields.choices import SelectChoice

from portal.accounts.policy import Role, allow
from portal.accounts.session import current_account
from portal.catalogue.models import Department, Offer, Region
from portal.db import get_session
from portal.i18n import localised
from portal.regions import programmes as programme_service
from portal.regions.forms import ProgrammeForm
from portal.regions.models import SubsidyProgramme

blueprint = Blueprint("regions", __name__, url_prefix="/espace-region")


def _region(region_code: str) -> Region:
    region = get_session().get(Region, region_code)
    if region is None:
        abort(404)
    return region


def _programme(region_code: str, programme_id: int) -> SubsidyProgramme:
    """The programme, only if it belongs to this region (another region's id is a 404)."""
    programme = get_session().get(SubsidyProgramme, programme_id)
    if programme is None or programme.region_code != region_code:
        abort(404)
    return programme


def _actor_id() -> int | None:
    account = current_account()
    return account.id if account else None


@blueprint.get("/<region_code>/programmes/")
@allow(Role.REGION_ADMIN, region="region_code")
def programmes(region_code: str):
    db = get_session()
    region = _region(region_code)
    rows = programme_service.programmes_of(db, region_code)
    offers = {
        o.id: o
        for o in db.exec(select(Offer).where(Offer.id.in_([p.offer_id for p in rows]))).all()
    }
    return render_template("regions/programmes.html", region=region, programmes=rows, offers=offers)


def _programme_form(region_code: str, programme: SubsidyProgramme | None = None) -> ProgrammeForm:
    db = get_session()
    form = ProgrammeForm()
    offers = programme_service.offers_for_region(db, region_code)
    if programme is not None and programme.offer_id not in {o.id for o in offers}:
        current = db.get(Offer, programme.offer_id)
        offers = [*offers, current] if current else offers
    form.offer_id.choices = [SelectChoice(0, _("— Choisir une offre —"))] + [
        SelectChoice(o.id, o.name) for o in offers
    ]
    form.structure_types.choices = [
        SelectChoice(o["value"], localised(o["label"]))
        for o in programme_service.options_of(db, "structure_types")
    ]
    form.professions.choices = [
        SelectChoice(o["value"], localised(o["label"]))
        for o in programme_service.options_of(db, "professions")
    ]
    form.departments.choices = [
        SelectChoice(d.code, f"{d.name} ({d.code})")
        for d in db.exec(
            select(Department)
            .where(Department.region_code == region_code)
            .order_by(Department.code)
        ).all()
    ]
    return form


def _render_form(region, form, programme, errors, status=200):
    for name, message in errors.items():
        field = getattr(form, "budget" if name == "budget" else name, None)
        if field is not None:
            field.errors = [*field.errors, message]
    return render_template(
        "regions/programme_form.html", region=region, form=form, programme=programme
    ), status


@blueprint.route("/<region_code>/programmes/nouveau", methods=["GET", "POST"])
@allow(Role.REGION_ADMIN, region="region_code")
def new_programme(region_code: str):
    db = get_session()
    region = _region(region_code)
    form = _programme_form(region_code)
    if request.method == "POST":
        if form.validate_on_submit():
            data = form.data_for_service()
            errors = programme_service.check(db, region_code, data)
            if not errors:
                programme = programme_service.create_programme(
                    session=db, region_code=region_code, data=data, actor_id=_actor_id()
                )
                db.commit()
                flash(
                    _(
                        "Programme enregistré en brouillon. Publiez-le pour qu’il s’applique "
                        "aux commandes."
                    ),
                    "success",
                )
                return redirect(
                    url_for(".programme", region_code=region_code, programme_id=programme.id)
                )
            return _render_form(region, form, None, errors, 400)
        return _render_form(region, form, None, {}, 400)
    return _render_form(region, form, None, {})


@blueprint.get("/<region_code>/programmes/<int:programme_id>/")
@allow(Role.REGION_ADMIN, region="region_code")
def programme(region_code: str, programme_id: int):
    db = get_session()
    region = _region(region_code)
    item = _programme(region_code, programme_id)
    return render_template(
        "regions/programme.html",
        region=region,
        programme=item,
        offer=db.get(Offer, item.offer_id),
        structure_types=_labels(db, "structure_types", item.structure_types),
        professions=_labels(db, "professions", item.professions),
    )


def _labels(db, key: str, values: list[str]) -> list[str]:
    names = {o["value"]: localised(o["label"]) for o in programme_service.options_of(db, key)}
    return [names.get(value, value) for value in values]


@blueprint.route("/<region_code>/programmes/<int:programme_id>/modifier", methods=["GET", "POST"])
@allow(Role.REGION_ADMIN, region="region_code")
def edit_programme(region_code: str, programme_id: int):
    db = get_session()
    region = _region(region_code)
    item = _programme(region_code, programme_id)
    if item.status == programme_service.CLOSED:
        flash(_("Un programme fermé ne peut plus être modifié."), "error")
        return redirect(url_for(".programme", region_code=region_code, programme_id=item.id))
    form = _programme_form(region_code, item)
    if request.method == "POST":
        if form.validate_on_submit():
            data = form.data_for_service()
            errors = programme_service.check(db, region_code, data, item)
            if not errors:
                programme_service.update_programme(
                    session=db, programme=item, data=data, actor_id=_actor_id()
                )
                db.commit()
                flash(_("Programme modifié."), "success")
                return redirect(
                    url_for(".programme", region_code=region_code, programme_id=item.id)
                )
            return _render_form(region, form, item, errors, 400)
        return _render_form(region, form, item, {}, 400)
    form.fill_from(item)
    return _render_form(region, form, item, {})


def _programme_action(region_code: str, programme_id: int, action: str):
    db = get_session()
    region = _region(region_code)
    item = _programme(region_code, programme_id)
    form = FlaskForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            if action == "publish":
                programme_service.publish_programme(
                    session=db, programme=item, actor_id=_actor_id()
                )
                message = _("Le programme est publié : il s’applique aux nouvelles commandes.")
            else:
                programme_service.close_programme(session=db, programme=item, actor_id=_actor_id())
                message = _(
                    "Le programme est fermé : plus aucune nouvelle commande ne peut en bénéficier. "
                    "Les commandes déjà passées gardent leur subvention."
                )
        except programme_service.ProgrammeError as error:
            flash(str(error), "error")
        else:
            db.commit()
            flash(message, "success")
        return redirect(url_for(".programme", region_code=region_code, programme_id=item.id))
    return render_template(
        "regions/programme_confirm.html", region=region, programme=item, action=action, form=form
    )


@blueprint.route("/<region_code>/programmes/<int:programme_id>/publier", methods=["GET", "POST"])
@allow(Role.REGION_ADMIN, region="region_code")
def publish_programme(region_code: str, programme_id: int):
    return _programme_action(region_code, programme_id, "publish")


@blueprint.route("/<region_code>/programmes/<int:programme_id>/fermer", methods=["GET", "POST"])
@allow(Role.REGION_ADMIN, region="region_code")
def close_programme(region_code: str, programme_id: int):
    return _programme_action(region_code, programme_id, "close")
