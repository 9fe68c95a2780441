"""A structure's space (/espace-structure/<id>/): its mailboxes and their users, its orders.

Open to the structure's managers: by membership, or by a Pro Santé Connect activity in the
structure (see :mod:`portal.accounts.policy`), and to platform admins.
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import or_, select

from portal.accounts.models import Activity, Membership, Role, Structure
from portal.accounts.policy import allow, allow_signed_in
from portal.accounts.session import current_account
from portal.catalogue.models import Offer, OfferRevision
from portal.db import get_session
from portal.subscriptions.models import Mailbox, Order, OrderLine

blueprint = Blueprint("structures", __name__, url_prefix="/espace-structure")

ROLE_LABELS = {
    "user": _l("Utilisateur ou utilisatrice"),
    "secretary": _l("Secrétariat"),
    "medical_assistant": _l("Assistant ou assistante médicale"),
}


@blueprint.get("/")
@allow_signed_in()
def index():
    db = get_session()
    account = current_account()
    conditions = [
        Structure.id.in_(
            select(Membership.structure_id).where(
                Membership.account_id == account.id, Membership.role == Role.STRUCTURE_MANAGER
            )
        )
    ]
    if account.professional_id:
        conditions.append(
            Structure.id.in_(
                select(Activity.structure_id).where(
                    Activity.professional_id == account.professional_id
                )
            )
        )
    structures = db.exec(select(Structure).where(or_(*conditions)).order_by(Structure.name)).all()
    return render_template("structures/index.html", structures=structures)


def _structure(structure_id: int) -> Structure:
    structure = get_session().get(Structure, structure_id)
    if structure is None:
        abort(404)
    return structure


def _mailbox(structure_id: int, mailbox_id: int) -> Mailbox:
    mailbox = get_session().get(Mailbox, mailbox_id)
    if mailbox is None or mailbox.structure_id != structure_id:
        abort(404)
    return mailbox


@blueprint.get("/<int:structure_id>/")
@allow(Role.STRUCTURE_MANAGER, structure="structure_id")
def structure(structure_id: int):
    from portal.structures.access import users_of
    from portal.subscriptions import states

    db = get_session()
    item = _structure(structure_id)
    mailboxes = db.exec(
        select(Mailbox).where(Mailbox.structure_id == structure_id).order_by(Mailbox.address)
    ).all()
    orders = db.exec(
        select(Order, Offer.name)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .where(Order.structure_id == structure_id, Order.state != "draft")
        .order_by(Order.created_at.desc())
    ).all()
    lines = {}
    for line in db.exec(
        select(OrderLine).where(OrderLine.order_id.in_([o.id for o, _name in orders]))
    ).all():
        lines.setdefault(line.order_id, []).append(line)
    from portal.i18n import current_language
    from portal.structures import approvals, invoices

    account = current_account()
    pending = approvals.pending_for_structure(db, structure_id)
    return render_template(
        "structures/structure.html",
        structure=item,
        invoices=invoices.invoices_of(
            db,
            structure_id,
            locale=current_language(),
            pdf_url=lambda order_id: url_for("payments.order_form_pdf", order_id=order_id),
        ),
        pending=[(p, approvals.may_decide(db, p.order, account)) for p in pending],
        mailboxes=[(m, users_of(db, m.id)) for m in mailboxes],
        orders=orders,
        lines=lines,
        state_label=states.label,
        role_labels={key: str(label) for key, label in ROLE_LABELS.items()},
        form=FlaskForm(),
        values=request.args,
    )


@blueprint.post("/<int:structure_id>/boites/<int:mailbox_id>/utilisateurs")
@allow(Role.STRUCTURE_MANAGER, structure="structure_id")
def add_user(structure_id: int, mailbox_id: int):
    from portal.structures import access

    db = get_session()
    mailbox = _mailbox(structure_id, mailbox_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        added = access.add_user(
            session=db,
            mailbox=mailbox,
            name=request.form.get("name", ""),
            email=request.form.get("email", ""),
            rpps=request.form.get("rpps", ""),
            role=request.form.get("role", "user"),
            account=current_account(),
        )
    except access.AccessError as problem:
        db.rollback()
        flash(str(problem), "error")
        # What was typed comes back in the form.
        kept = {k: request.form.get(k, "") for k in ("name", "email", "rpps", "role")}
        return redirect(
            url_for(".structure", structure_id=structure_id, boite=mailbox_id, **kept)
            + f"#boite-{mailbox_id}"
        )
    db.commit()
    flash(
        _(
            "%(name)s peut utiliser %(address)s ; l’opérateur en est informé.",
            name=added.name,
            address=mailbox.address,
        ),
        "success",
    )
    return redirect(url_for(".structure", structure_id=structure_id) + f"#boite-{mailbox_id}")


@blueprint.route(
    "/<int:structure_id>/boites/<int:mailbox_id>/utilisateurs/<int:access_id>/retirer",
    methods=["GET", "POST"],
)
@allow(Role.STRUCTURE_MANAGER, structure="structure_id")
def remove_user(structure_id: int, mailbox_id: int, access_id: int):
    from portal.structures import access
    from portal.subscriptions.models import MailboxAccess

    db = get_session()
    item = _structure(structure_id)
    mailbox = _mailbox(structure_id, mailbox_id)
    person = db.get(MailboxAccess, access_id)
    if person is None or person.mailbox_id != mailbox.id:
        abort(404)
    form = FlaskForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            access.remove_user(
                session=db, mailbox=mailbox, access_id=access_id, account=current_account()
            )
        except access.AccessError as problem:
            db.rollback()
            flash(str(problem), "error")
        else:
            db.commit()
            flash(
                _(
                    "%(name)s ne peut plus utiliser %(address)s.",
                    name=person.name,
                    address=mailbox.address,
                ),
                "success",
            )
        return redirect(url_for(".structure", structure_id=structure_id) + f"#boite-{mailbox_id}")
    return render_template(
        "structures/confirm_remove.html", structure=item, mailbox=mailbox, person=person, form=form
    )


@blueprint.post("/<int:structure_id>/commandes/<int:order_id>/decision")
@allow(Role.STRUCTURE_MANAGER, structure="structure_id")
def decide(structure_id: int, order_id: int):
    """A manager approves or rejects (with a reason) an order placed from outside the
    structure's Pro Santé Connect activities."""
    from portal.regions.decisions import apply_decision
    from portal.structures import approvals

    db = get_session()
    item = _structure(structure_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    scope = dict(session=db, structure=item, order_id=order_id, account=current_account())
    apply_decision(
        order_id,
        request.form.get("decision"),
        approve=partial(approvals.approve, **scope),
        reject=partial(approvals.reject, **scope, reason=request.form.get("reason", "")[:1000]),
    )
    return redirect(url_for(".structure", structure_id=structure_id) + "#a-valider")


SLOTS = 3  # mailbox blocks on the order form (empty ones are ignored)


@blueprint.route("/<int:structure_id>/commander", methods=["GET", "POST"])
@allow(Role.STRUCTURE_MANAGER, structure="structure_id")
def order(structure_id: int):
    import uuid

    from portal.catalogue.models import Operator
    from portal.i18n import current_language
    from portal.structures import ordering

    db = get_session()
    item = _structure(structure_id)
    offers = ordering.offers_for(db, item)
    by_slug = {o.slug: o for o in offers}
    form = FlaskForm()
    values = request.form if request.method == "POST" else request.args
    chosen = by_slug.get(values.get("offre", "")) or (offers[0] if len(offers) == 1 else None)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if chosen is None:
            errors["offer"] = _("Choisissez une offre.")
        wishes = []
        for index in range(1, SLOTS + 1):
            local = request.form.get(f"local-{index}", "").strip().lower()
            service = request.form.get(f"service-{index}", "").strip()
            if not local and not service:
                continue
            users, problems = ordering.parse_users(request.form.get(f"users-{index}", ""))
            if problems:
                errors[f"users-{index}"] = " ".join(problems)
            wishes.append(
                ordering.MailboxWish(
                    kind=request.form.get(f"kind-{index}", "ORG"),
                    local_part=local,
                    service=service[:200],
                    description=request.form.get(f"description-{index}", "").strip()[:300],
                    responsible=request.form.get(f"responsible-{index}", "").strip()[:200],
                    users=users,
                )
            )
        if chosen is not None and not errors:
            try:
                placed = ordering.place_org_order(
                    session=db,
                    account=current_account(),
                    structure=item,
                    offer=chosen,
                    wishes=wishes,
                    idempotency_key="org-" + request.form.get("key", "")[:60],
                    locale=current_language(),
                )
            except ordering.OrderInputError as problem:
                db.rollback()
                errors.update(problem.errors)
            else:
                db.commit()
                if placed.state == "awaiting_payment":
                    return redirect(url_for("payments.payment", order_id=placed.id))
                if placed.state == "awaiting_approval":
                    from portal.structures.approvals import placed_outside_activities

                    flash(
                        _(
                            "Commande n° %(id)d envoyée. Vos activités Pro Santé Connect ne "
                            "mentionnent pas cette structure : elle attend la validation de la "
                            "région ou d’un autre responsable de la structure.",
                            id=placed.id,
                        )
                        if placed_outside_activities(db, placed)
                        else _(
                            "Commande n° %(id)d envoyée. Elle attend la validation de la région.",
                            id=placed.id,
                        ),
                        "info",
                    )
                else:
                    flash(_("Commande n° %(id)d envoyée.", id=placed.id), "success")
                return redirect(url_for(".structure", structure_id=structure_id))
    operator = db.get(Operator, chosen.operator_id) if chosen else None
    proposals = (
        {
            index: ordering.address_proposals(
                item,
                operator,
                values.get(f"service-{index}") or ("secretariat", "accueil", "contact")[index - 1],
            )
            for index in range(1, SLOTS + 1)
        }
        if operator
        else {}
    )
    return render_template(
        "structures/order.html",
        structure=item,
        offers=offers,
        chosen=chosen,
        domain=operator.mail_domains[0] if operator and operator.mail_domains else "",
        proposals=proposals,
        slots=range(1, SLOTS + 1),
        values=values,
        errors=errors,
        key=values.get("key") or uuid.uuid4().hex,
        form=form,
    ), (400 if errors else 200)
