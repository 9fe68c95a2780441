"""Region back-office pages under /espace-region/<region>/: subsidy programmes, dashboard,
bulk orders. Every route declares its policy; a region's staff only ever reach their region."""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms.fields.choices import SelectChoice

from portal.accounts.models import Structure
from portal.accounts.policy import Role, allow
from portal.accounts.session import current_account
from portal.catalogue.exports import csv_response
from portal.catalogue.models import Department, Offer, OfferRevision, Region
from portal.db import get_session, utcnow
from portal.i18n import localised
from portal.observatory.presenters import duration_text
from portal.regions import bulk, presenters
from portal.regions import programmes as programme_service
from portal.regions.dashboard import region_dashboard, region_order_filter
from portal.regions.forms import BulkOrderForm, DecisionForm, ProgrammeForm
from portal.regions.models import BulkUpload, SubsidyProgramme
from portal.subscriptions.models import Order, OrderLine

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


# ---------------------------------------------------------------- dashboard and exports


@blueprint.get("/<region_code>/tableau-de-bord")
@allow(Role.REGION_ADMIN, region="region_code")
def dashboard(region_code: str):
    db = get_session()
    region = _region(region_code)
    board = region_dashboard(session=db, region_code=region_code)
    return render_template(
        "regions/dashboard.html",
        region=region,
        board=board,
        charts=presenters.dashboard_charts(board),
        median_text=duration_text(board.median_time_to_active),
        share_text=presenters.share_text,
    )


@blueprint.get("/<region_code>/tableau-de-bord.csv")
@allow(Role.REGION_ADMIN, region="region_code")
def dashboard_csv(region_code: str):
    _region(region_code)
    board = region_dashboard(session=get_session(), region_code=region_code)
    return csv_response(
        presenters.dashboard_rows(board), f"tableau-de-bord-{region_code}-{utcnow():%Y-%m-%d}.csv"
    )


@blueprint.get("/<region_code>/commandes.csv")
@allow(Role.REGION_ADMIN, region="region_code")
def orders_csv(region_code: str):
    db = get_session()
    _region(region_code)
    return csv_response(
        region_order_rows(db, region_code), f"commandes-{region_code}-{utcnow():%Y-%m-%d}.csv"
    )


def region_order_rows(db, region_code: str):
    yield [
        _("Commande"),
        _("Envoyée le"),
        _("État"),
        _("Structure"),
        _("FINESS"),
        _("SIRET"),
        _("Département"),
        _("Offre"),
        _("Révision"),
        _("Programme"),
        _("Boîtes aux lettres"),
        _("Montant TTC en centimes"),
    ]
    lines = (
        select(OrderLine.order_id, sa.func.count(OrderLine.id).label("mailboxes"))
        .group_by(OrderLine.order_id)
        .subquery()
    )
    query = (
        select(Order, Structure, Offer, OfferRevision, SubsidyProgramme, lines.c.mailboxes)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .outerjoin(Structure, Structure.id == Order.structure_id)
        .outerjoin(SubsidyProgramme, SubsidyProgramme.id == Order.programme_id)
        .outerjoin(lines, lines.c.order_id == Order.id)
        .where(region_order_filter(db, region_code), Order.state != "draft")
        .order_by(Order.id)
    )
    for order, structure, offer, revision, programme, mailboxes in db.execute(query):
        sent = order.submitted_at or order.created_at
        yield [
            order.id,
            sent.date().isoformat(),
            presenters.state_label(order.state),
            structure.name if structure else "",
            structure.finess or "" if structure else "",
            structure.siret or "" if structure else "",
            structure.department_code or "" if structure else "",
            offer.name,
            revision.number,
            programme.slug if programme else "",
            mailboxes or 0,
            order.total_cents,
        ]


# ---------------------------------------------------------------- bulk orders


def _bulk_programmes(db, region_code: str) -> list[SubsidyProgramme]:
    return [p for p in programme_service.programmes_of(db, region_code) if p.status == "published"]


@blueprint.route("/<region_code>/commandes-groupees", methods=["GET", "POST"])
@allow(Role.REGION_ADMIN, region="region_code")
def bulk_upload(region_code: str):
    db = get_session()
    region = _region(region_code)
    programmes = _bulk_programmes(db, region_code)
    form = BulkOrderForm()
    form.programme_id.choices = [SelectChoice(0, _("— Choisir un programme —"))] + [
        SelectChoice(p.id, localised(p.name)) for p in programmes
    ]
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            error = _("Le formulaire a expiré : rechargez la page et recommencez.")
        elif form.programme_id.data not in {p.id for p in programmes}:
            form.programme_id.errors = [_("Choisissez un programme publié de votre région.")]
        elif not form.file.data or not form.file.data.filename:
            form.file.errors = [_("Choisissez le fichier CSV à envoyer.")]
        else:
            programme = db.get(SubsidyProgramme, form.programme_id.data)
            content = form.file.data.read(bulk.MAX_BYTES + 1)
            try:
                report = bulk.read_bulk_file(
                    content,
                    session=db,
                    region_code=region_code,
                    eligible_types=programme.structure_types or None,
                )
            except bulk.BulkFileError as problem:
                form.file.errors = [str(problem)]
            else:
                upload = BulkUpload(
                    region_code=region_code,
                    programme_id=programme.id,
                    account_id=current_account().id,
                    filename=(form.file.data.filename or "commandes.csv")[:255],
                    sha256=report.sha256,
                    content=content,
                    valid_lines=len(report.valid),
                    invalid_lines=len(report.invalid),
                )
                db.add(upload)
                db.commit()
                return redirect(
                    url_for(".bulk_report", region_code=region_code, upload_id=upload.id)
                )
    status = 400 if request.method == "POST" else 200
    return render_template(
        "regions/bulk_upload.html",
        region=region,
        form=form,
        programmes=programmes,
        error=error,
        columns=bulk.TEMPLATE_HEADER,
        max_lines=bulk.MAX_LINES,
    ), status


@blueprint.get("/<region_code>/commandes-groupees/modele.csv")
@allow(Role.REGION_ADMIN, region="region_code")
def bulk_template(region_code: str):
    _region(region_code)
    return csv_response(
        [
            bulk.TEMPLATE_HEADER,
            [
                "290000017",
                "",
                "pharmacie",
                "Pharmacie du Port",
                "29",
                "officine|secretariat",
                "Jeanne Martin",
                "contact@pharmacie-du-port.example",
            ],
        ],
        "modele-commandes-groupees.csv",
    )


def _upload(region_code: str, upload_id: int) -> BulkUpload:
    upload = get_session().get(BulkUpload, upload_id)
    if upload is None or upload.region_code != region_code:
        abort(404)
    return upload


def _upload_report(db, upload: BulkUpload):
    from portal.regions import bulk_orders

    programme = db.get(SubsidyProgramme, upload.programme_id)
    report = bulk_orders.report_for(db, upload, programme)
    keys = {
        line.number: bulk_orders.line_key(upload.region_code, programme.id, line)
        for line in report.valid
    }
    ordered = bulk_orders.existing_keys(db, list(keys.values()), programme.id)
    already = {number for number, key in keys.items() if key in ordered}
    return programme, report, already


@blueprint.get("/<region_code>/commandes-groupees/<int:upload_id>")
@allow(Role.REGION_ADMIN, region="region_code")
def bulk_report(region_code: str, upload_id: int):
    db = get_session()
    region = _region(region_code)
    upload = _upload(region_code, upload_id)
    programme, report, already = _upload_report(db, upload)
    to_order = [line for line in report.valid if line.number not in already]
    return render_template(
        "regions/bulk_report.html",
        region=region,
        upload=upload,
        programme=programme,
        report=report,
        already=already,
        to_order=to_order,
        to_order_mailboxes=sum(len(line.mailboxes) for line in to_order),
        shown_invalid=report.invalid[:BULK_REPORT_SHOWN],
        form=FlaskForm(),
    )


BULK_REPORT_SHOWN = 200


@blueprint.get("/<region_code>/commandes-groupees/<int:upload_id>/rapport.csv")
@allow(Role.REGION_ADMIN, region="region_code")
def bulk_report_csv(region_code: str, upload_id: int):
    db = get_session()
    _region(region_code)
    upload = _upload(region_code, upload_id)
    report, already = _upload_report(db, upload)[1:]

    def rows():
        yield [_("Ligne"), _("Structure"), _("Résultat"), _("Motifs")]
        for line in report.lines:
            if not line.ok:
                result = _("à corriger")
            elif line.number in already:
                result = _("déjà commandée")
            else:
                result = _("valide")
            yield [line.number, line.values.get("name", ""), result, " / ".join(line.errors)]

    return csv_response(rows(), f"rapport-{upload.id}.csv")


@blueprint.post("/<region_code>/commandes-groupees/<int:upload_id>/commander")
@allow(Role.REGION_ADMIN, region="region_code")
def bulk_order(region_code: str, upload_id: int):
    db = get_session()
    _region(region_code)
    upload = _upload(region_code, upload_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    from portal.regions import bulk_orders

    try:
        result = bulk_orders.order_bulk(session=db, upload=upload, account=current_account())
    except bulk_orders.BulkOrderError as problem:
        db.rollback()
        flash(str(problem), "error")
        return redirect(url_for(".bulk_report", region_code=region_code, upload_id=upload_id))
    db.commit()
    if result.created:
        flash(
            _(
                "%(orders)s pour %(mailboxes)s. Le tableau de bord en suit l’avancement.",
                orders=ngettext(
                    "%(num)d commande créée", "%(num)d commandes créées", result.created
                ),
                mailboxes=ngettext(
                    "%(num)d boîte aux lettres", "%(num)d boîtes aux lettres", result.mailboxes
                ),
            ),
            "success",
        )
    else:
        flash(
            _("Rien de nouveau : toutes les lignes valides de ce fichier étaient déjà commandées."),
            "info",
        )
    return redirect(url_for(".bulk_report", region_code=region_code, upload_id=upload_id))


# ---------------------------------------------------------------- approvals


@blueprint.get("/<region_code>/approbations")
@allow(Role.REGION_ADMIN, region="region_code")
def approvals(region_code: str):
    from portal.regions.approvals import pending_orders

    db = get_session()
    region = _region(region_code)
    return render_template(
        "regions/approvals.html",
        region=region,
        pending=pending_orders(db, region_code),
        form=DecisionForm(),
        localised=localised,
    )


@blueprint.post("/<region_code>/approbations/<int:order_id>")
@allow(Role.REGION_ADMIN, region="region_code")
def decide(region_code: str, order_id: int):
    from portal.regions import approvals as approval_service
    from portal.regions.decisions import apply_decision

    db = get_session()
    _region(region_code)
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    scope = dict(session=db, region_code=region_code, order_id=order_id, account=current_account())
    apply_decision(
        order_id,
        request.form.get("decision"),
        approve=partial(approval_service.approve, **scope, reason=form.reason.data or None),
        reject=partial(approval_service.reject, **scope, reason=form.reason.data or ""),
    )
    return redirect(url_for(".approvals", region_code=region_code))
