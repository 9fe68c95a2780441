"""Operator back-office pages under /espace-operateur/<operator>/: offers and their revisions."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from portal.accounts.policy import Role, allow
from portal.accounts.session import current_account
from portal.actions import carry_out
from portal.app import settings_of
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.db import get_session
from portal.operators import offers as offer_service

blueprint = Blueprint("operators", __name__, url_prefix="/espace-operateur")


def _operator_offer(operator_id: int, offer_id: int) -> tuple[Operator, Offer]:
    """The offer, only if this operator provisions it (an id from elsewhere is a 404)."""
    db = get_session()
    operator = db.get(Operator, operator_id)
    offer = db.get(Offer, offer_id)
    if operator is None or offer is None or offer.operator_id != operator.id:
        abort(404)
    return operator, offer


def _actor_id() -> int | None:
    account = current_account()
    return account.id if account else None


@blueprint.get("/<int:operator_id>/offres/<int:offer_id>/")
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def offer(operator_id: int, offer_id: int):
    db = get_session()
    operator, item = _operator_offer(operator_id, offer_id)
    current = db.get(OfferRevision, item.current_revision_id) if item.current_revision_id else None
    return render_template(
        "operators/offer.html",
        operator=operator,
        offer=item,
        current=current,
        draft=offer_service.draft_of(db, item),
        revisions=offer_service.revisions_of(db, item),
        form=FlaskForm(),
    )


@blueprint.route("/<int:operator_id>/offres/<int:offer_id>/brouillon", methods=["GET", "POST"])
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def edit_draft(operator_id: int, offer_id: int):
    db = get_session()
    operator, item = _operator_offer(operator_id, offer_id)
    fields = offer_service.feature_fields(db)
    draft = offer_service.draft_of(db, item)
    if request.method == "POST":
        submitted = offer_service.read_terms(request.form, fields)
        if not submitted.errors:
            offer_service.save_draft(
                session=db, offer=item, terms=submitted.terms, actor_id=_actor_id()
            )
            db.commit()
            flash(
                _(
                    "Brouillon enregistré. Il n’est visible de personne tant que vous ne "
                    "l’avez pas publié."
                ),
                "success",
            )
            return redirect(url_for(".offer", operator_id=operator.id, offer_id=item.id))
        values, errors = submitted.raw, submitted.errors
        status = 400
    else:
        source = draft or (
            db.get(OfferRevision, item.current_revision_id) if item.current_revision_id else None
        )
        values = offer_service.terms_form_values(source or OfferRevision(offer_id=item.id), fields)
        errors, status = {}, 200
    return render_template(
        "operators/draft.html",
        operator=operator,
        offer=item,
        draft=draft,
        fields=fields,
        values=values,
        errors=errors,
        form=FlaskForm(),
    ), status


def _confirmed_action(operator_id: int, offer_id: int, action: str):
    """GET shows a confirmation page; POST (with its CSRF token) does the irreversible action."""
    db = get_session()
    operator, item = _operator_offer(operator_id, offer_id)
    draft = offer_service.draft_of(db, item)
    form = FlaskForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            if action == "publish":
                published = offer_service.publish_draft(
                    session=db, offer=item, actor_id=_actor_id()
                )
                message = _(
                    "La révision %(number)d est publiée : le catalogue affiche désormais ces "
                    "conditions. Les abonnements en cours gardent celles qu’ils ont acceptées.",
                    number=published.number,
                )
            elif action == "discard":
                offer_service.discard_draft(session=db, offer=item, actor_id=_actor_id())
                message = _("Le brouillon est abandonné.")
            else:
                offer_service.withdraw_offer(session=db, offer=item, actor_id=_actor_id())
                message = _(
                    "L’offre est retirée du catalogue. Les abonnements en cours continuent."
                )
        except offer_service.OfferEditError as error:
            flash(str(error), "error")
        else:
            db.commit()
            flash(message, "success")
        return redirect(url_for(".offer", operator_id=operator.id, offer_id=item.id))
    current = db.get(OfferRevision, item.current_revision_id) if item.current_revision_id else None
    return render_template(
        "operators/confirm.html",
        operator=operator,
        offer=item,
        draft=draft,
        current=current,
        action=action,
        form=form,
    )


@blueprint.route("/<int:operator_id>/offres/<int:offer_id>/publier", methods=["GET", "POST"])
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def publish(operator_id: int, offer_id: int):
    return _confirmed_action(operator_id, offer_id, "publish")


@blueprint.route(
    "/<int:operator_id>/offres/<int:offer_id>/brouillon/abandonner", methods=["GET", "POST"]
)
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def discard(operator_id: int, offer_id: int):
    return _confirmed_action(operator_id, offer_id, "discard")


@blueprint.route("/<int:operator_id>/offres/<int:offer_id>/retirer", methods=["GET", "POST"])
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def withdraw(operator_id: int, offer_id: int):
    return _confirmed_action(operator_id, offer_id, "withdraw")


# ---------------------------------------------------------------- provisioning


def _operator(operator_id: int) -> Operator:
    operator = get_session().get(Operator, operator_id)
    if operator is None:
        abort(404)
    return operator


@blueprint.route("/<int:operator_id>/raccordement", methods=["GET", "POST"])
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def connection(operator_id: int):
    from portal.operators import provisioning as service
    from portal.provisioning import registry

    db = get_session()
    operator = _operator(operator_id)
    settings = settings_of(current_app)
    form = FlaskForm()
    options = operator.adapter_settings or {}
    values = {
        "kind": operator.adapter_kind,
        "base_url": options.get("base_url", ""),
        "timeout_seconds": str(options.get("timeout_seconds", 10)),
    }
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if request.form.get("action") == "test":
            problem = service.check_connection(session=db, operator=operator, settings=settings)
            if problem:
                flash(problem, "error")
            else:
                flash(_("Le raccordement fonctionne : votre API a répondu."), "success")
            return redirect(url_for(".connection", operator_id=operator.id))
        values = {
            "kind": request.form.get("kind", ""),
            "base_url": request.form.get("base_url", "").strip(),
            "timeout_seconds": request.form.get("timeout_seconds", "").strip(),
        }
        timeout = int(values["timeout_seconds"]) if values["timeout_seconds"].isdigit() else 0
        errors = service.save_connection(
            session=db,
            operator=operator,
            settings=settings,
            kind=values["kind"],
            base_url=values["base_url"],
            timeout_seconds=timeout,
            token=request.form.get("token", "").strip(),
            callback_secret=request.form.get("callback_secret", "").strip(),
            account=current_account(),
        )
        if not errors:
            db.commit()
            flash(
                _("Raccordement enregistré. Testez-le avant de recevoir des commandes."), "success"
            )
            return redirect(url_for(".connection", operator_id=operator.id))
        status = 400
    return render_template(
        "operators/connection.html",
        operator=operator,
        kinds=registry.adapter_kinds(),
        values=values,
        errors=errors,
        has_token=bool(operator.adapter_secret_encrypted),
        has_callback=bool(operator.callback_secret_encrypted),
        demo_connection=registry.uses_reference_operator(operator),
        form=form,
    ), status


@blueprint.get("/<int:operator_id>/a-traiter")
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def work_queue(operator_id: int):
    from portal.operators import provisioning as service

    operator = _operator(operator_id)
    return render_template(
        "operators/work_queue.html",
        operator=operator,
        items=service.work_items(get_session(), operator),
        form=FlaskForm(),
    )


@blueprint.post("/<int:operator_id>/a-traiter/<int:mailbox_id>")
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def complete_work(operator_id: int, mailbox_id: int):
    from portal.operators import provisioning as service

    operator = _operator(operator_id)
    if not FlaskForm().validate_on_submit():
        abort(400)

    def complete() -> str:
        mailbox = service.complete_work_item(
            session=get_session(),
            operator=operator,
            mailbox_id=mailbox_id,
            external_id=request.form.get("external_id", ""),
            account=current_account(),
        )
        return _("Boîte %(address)s marquée comme créée.", address=mailbox.address)

    carry_out(complete, refused=service.OperatorActionError)
    return redirect(url_for(".work_queue", operator_id=operator.id))


@blueprint.get("/<int:operator_id>/commandes")
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def orders(operator_id: int):
    from portal.operators import provisioning as service
    from portal.subscriptions import states

    operator = _operator(operator_id)
    state = request.args.get("etat", "")
    if state and state not in {s.value for s in states.TRANSITIONS}:
        state = ""
    return render_template(
        "operators/orders.html",
        operator=operator,
        orders=service.operator_orders(get_session(), operator, state or None),
        state=state,
        states=[(s.value, states.label(s)) for s in states.TRANSITIONS if s.value != "draft"],
        label=states.label,
        form=FlaskForm(),
    )


@blueprint.post("/<int:operator_id>/commandes/<int:order_id>/relancer")
@allow(Role.OPERATOR_ADMIN, operator="operator_id")
def retry_order(operator_id: int, order_id: int):
    from portal.operators import provisioning as service

    operator = _operator(operator_id)
    if not FlaskForm().validate_on_submit():
        abort(400)

    def retry() -> str:
        service.retry(
            session=get_session(), operator=operator, order_id=order_id, account=current_account()
        )
        return _("Commande n° %(id)d relancée.", id=order_id)

    carry_out(retry, refused=service.OperatorActionError)
    return redirect(url_for(".orders", operator_id=operator.id, etat="needs_attention"))
