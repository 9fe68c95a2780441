"""Pages of the subscription flow (/souscrire/<slug>) and of the person's orders (/commandes).

Each step is a page that works without JavaScript; what was chosen is kept in the session, so
the back button and a refresh are safe. The summary form carries the order's idempotency key:
a double submission, a refresh or a second tab all give the same order.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask import session as web_session
from flask_babel import gettext as _
from sqlmodel import select

from portal.accounts.session import current_account, current_professional, login_required
from portal.catalogue.models import Offer, OfferStatus, Operator
from portal.db import get_session
from portal.i18n import current_language
from portal.payments import stripe_payments
from portal.payments.stripe_service import PaymentError
from portal.subscriptions import addresses, quotes, services, states
from portal.subscriptions.eligibility import check_eligibility
from portal.subscriptions.forms import OTHER, AddressForm, ConfirmForm, SummaryForm
from portal.subscriptions.models import Order, OrderState, Subscription

blueprint = Blueprint("subscriptions", __name__)
FLOW_KEY = "subscription_flow"
LIVE_REFRESH_STATES = {OrderState.SUBMITTED, OrderState.APPROVED, OrderState.PAID,
                       OrderState.PROVISIONING, OrderState.TERMINATING}  # fmt: skip


def _offer(slug: str) -> Offer:
    offer = get_session().exec(select(Offer).where(Offer.slug == slug)).first()
    if offer is None:
        abort(404)
    return offer


def _flow(slug: str) -> dict:
    flows = web_session.get(FLOW_KEY) or {}
    return dict(flows.get(slug) or {})


def _save_flow(slug: str, flow: dict) -> None:
    flows = dict(web_session.get(FLOW_KEY) or {})
    flows[slug] = flow
    web_session[FLOW_KEY] = flows


def _replaced_order_id(flow: dict) -> int | None:
    if not flow.get("replaces"):
        return None
    subscription = get_session().get(Subscription, flow["replaces"])
    return subscription.order_id if subscription else None


@blueprint.get("/souscrire/<slug>")
@login_required
def start(slug: str):
    offer = _offer(slug)
    flow = _flow(slug)
    replaces = request.args.get("remplace", type=int)
    if replaces:
        subscription = get_session().get(Subscription, replaces)
        order = get_session().get(Order, subscription.order_id) if subscription else None
        if order is None or order.account_id != current_account().id:
            abort(404)
        flow["replaces"] = replaces
    # A flow whose key already made an order starts afresh (a new subscription).
    if not flow.get("key") or services.find_by_key(get_session(), flow["key"]):
        flow = {"key": uuid.uuid4().hex, "replaces": flow.get("replaces")}
    _save_flow(slug, flow)
    eligibility = check_eligibility(
        get_session(), offer, current_professional(), replaces_order_id=_replaced_order_id(flow)
    )
    operator = get_session().get(Operator, offer.operator_id)
    return render_template(
        "subscriptions/start.html", offer=offer, operator=operator, eligibility=eligibility
    )


def _eligible_or_start(offer: Offer, flow: dict):
    eligibility = check_eligibility(
        get_session(), offer, current_professional(), replaces_order_id=_replaced_order_id(flow)
    )
    if not eligibility.eligible or not flow.get("key"):
        return None, redirect(url_for("subscriptions.start", slug=offer.slug))
    return eligibility, None


@blueprint.route("/souscrire/<slug>/adresse", methods=["GET", "POST"])
@login_required
def address(slug: str):
    offer = _offer(slug)
    flow = _flow(slug)
    _eligibility, back = _eligible_or_start(offer, flow)
    if back:
        return back
    session = get_session()
    operator = session.get(Operator, offer.operator_id)
    professional = current_professional()
    domain = addresses.default_domain(operator, professional)
    proposed = addresses.proposals(session, professional, domain) if domain else []
    form = AddressForm()
    form.choice.choices = [(value, value) for value in proposed] + [(OTHER, _("Une autre adresse"))]
    form.domain.choices = [(value, value) for value in operator.mail_domains or []]
    if request.method == "GET":
        chosen = flow.get("address")
        if chosen and chosen in proposed:
            form.choice.data = chosen
        elif chosen:
            form.choice.data = OTHER
            form.local_part.data, _sep, form.domain.data = chosen.partition("@")
        else:
            form.choice.data = proposed[0] if proposed else OTHER
            form.domain.data = domain
    check = None
    if form.validate_on_submit():
        if form.choice.data and form.choice.data != OTHER:
            local, _sep, chosen_domain = form.choice.data.partition("@")
        else:
            local, chosen_domain = form.local_part.data or "", form.domain.data or ""
        check = addresses.check_address(session, operator, local, chosen_domain)
        if check.available:
            flow["address"] = check.address
            _save_flow(slug, flow)
            return redirect(url_for("subscriptions.summary", slug=slug))
        target = form.local_part if form.choice.data == OTHER else form.choice
        target.errors = [*target.errors, check.message]
    return render_template(
        "subscriptions/address.html",
        offer=offer,
        operator=operator,
        form=form,
        check=check,
        professional=professional,
    )


@blueprint.get("/souscrire/<slug>/adresse/disponibilite")
@login_required
def check_address(slug: str):
    """Live check (JSON) used by the address page while the person types."""
    offer = _offer(slug)
    operator = get_session().get(Operator, offer.operator_id)
    check = addresses.check_address(
        get_session(),
        operator,
        request.args.get("local_part", ""),
        request.args.get("domain", ""),
    )
    return jsonify(
        {"address": check.address, "available": check.available, "message": check.message}
    )


@blueprint.route("/souscrire/<slug>/recapitulatif", methods=["GET", "POST"])
@login_required
def summary(slug: str):
    offer = _offer(slug)
    flow = _flow(slug)
    if request.method == "POST":
        # A second submission of a form already turned into an order: show that order.
        placed = services.find_by_key(get_session(), request.form.get("idempotency_key", ""))
        if placed is not None and placed.account_id == current_account().id:
            return redirect(url_for("subscriptions.order", order_id=placed.id))
    eligibility, back = _eligible_or_start(offer, flow)
    if back:
        return back
    if not flow.get("address"):
        return redirect(url_for("subscriptions.address", slug=slug))
    session = get_session()
    form = SummaryForm()
    if request.method == "GET":
        form.idempotency_key.data = flow["key"]
    if form.validate_on_submit():
        key = form.idempotency_key.data or ""
        if key != flow["key"] and services.find_by_key(session, key) is None:
            key = flow["key"]  # an old page: use the current flow's key
        try:
            placed = services.place_order(
                session,
                account=current_account(),
                professional=current_professional(),
                offer=offer,
                address=flow["address"],
                idempotency_key=key,
                locale=current_language(),
                accepted_quote=flow.get("quote", ""),
                replaces_subscription_id=flow.get("replaces"),
                contact_email=None if current_account().email else form.contact_email.data,
            )
        except services.QuoteChanged:
            session.rollback()
            flash(
                _(
                    "Le prix a changé depuis l'affichage du récapitulatif (par exemple, les "
                    "dernières places subventionnées viennent d'être attribuées). Rien n'a été "
                    "commandé ; vérifiez le nouveau prix ci-dessous avant de valider."
                ),
                "error",
            )
            return redirect(url_for("subscriptions.summary", slug=slug))
        except services.OrderRefused:
            session.rollback()
            flash(
                _("La commande n'a pas pu être enregistrée : vérifiez les conditions ci-dessous."),
                "error",
            )
            return redirect(url_for("subscriptions.start", slug=slug))
        session.commit()
        return redirect(url_for("subscriptions.order", order_id=placed.order.id))
    revision, programme, quote = services.quote_for(
        session, offer, current_professional(), eligibility.department_codes
    )
    flow["quote"] = quote.digest  # what the person accepts by submitting this page
    _save_flow(slug, flow)
    operator = session.get(Operator, offer.operator_id)
    return render_template(
        "subscriptions/summary.html",
        offer=offer,
        operator=operator,
        revision=revision,
        programme=programme,
        quote=quote,
        out_of_places=services.programmes_out_of_places(
            session, offer, current_professional(), eligibility.department_codes
        ),
        reasons=quotes.REASONS,
        address=flow["address"],
        form=form,
        replaces=flow.get("replaces"),
        ask_email=not current_account().email,
    )


def _own_order(order_id: int) -> Order:
    order = get_session().get(Order, order_id)
    if order is None or order.account_id != current_account().id:
        abort(404)
    return order


@blueprint.get("/commandes/<int:order_id>")
@login_required
def order(order_id: int):
    order = _own_order(order_id)
    db = get_session()
    events = states.events_of(db, order.id)
    # Read the order again after its steps: on PostgreSQL each statement sees the latest
    # commit, and a step committed in between must not be listed under an older state.
    db.refresh(order)
    view = services.order_view(db, order)
    context = {
        "view": view,
        "events": events,
        "live": OrderState(order.state) in LIVE_REFRESH_STATES,
        "states": states,
        "can_cancel": services.can_cancel(order),
        "can_terminate": services.can_terminate(order),
    }
    if request.args.get("fragment"):
        return render_template("subscriptions/_order_status.html", **context)
    return render_template("subscriptions/order.html", **context)


@blueprint.get("/commandes")
@login_required
def orders():
    session = get_session()
    views = [
        services.order_view(session, order)
        for order in services.orders_of(session, current_account())
    ]
    return render_template("subscriptions/orders.html", views=views, states=states)


@blueprint.route("/commandes/<int:order_id>/annuler", methods=["GET", "POST"])
@login_required
def cancel(order_id: int):
    order = _own_order(order_id)
    view = services.order_view(get_session(), order)
    if not (services.can_cancel(order) or services.can_terminate(order)):
        flash(_("Cette commande ne peut plus être annulée."), "error")
        return redirect(url_for("subscriptions.order", order_id=order.id))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            order = services.cancel_order(
                get_session(), order, account=current_account(), payments=stripe_payments()
            )
        except services.OrderRefused:
            get_session().rollback()
            flash(_("Cette commande ne peut plus être annulée."), "error")
            return redirect(url_for("subscriptions.order", order_id=order_id))
        except PaymentError:
            get_session().rollback()
            flash(
                _(
                    "Le service de paiement ne répond pas : la commande n’est pas annulée et "
                    "rien n’a changé. Réessayez dans quelques minutes."
                ),
                "error",
            )
            return redirect(url_for("subscriptions.order", order_id=order_id))
        get_session().commit()
        messages = {
            OrderState.TERMINATING: _("La résiliation est demandée à l'opérateur."),
            OrderState.REFUNDED: _("La commande est annulée et le paiement remboursé."),
        }
        flash(messages.get(order.state, _("La commande est annulée.")), "success")
        return redirect(url_for("subscriptions.order", order_id=order_id))
    return render_template(
        "subscriptions/cancel.html",
        view=view,
        form=form,
        terminate=services.can_terminate(order),
        paid=bool(order.stripe_subscription_id),
    )


@blueprint.get("/commandes/<int:order_id>/changer-offre")
@login_required
def switch(order_id: int):
    order = _own_order(order_id)
    session = get_session()
    subscription = session.exec(
        select(Subscription).where(Subscription.order_id == order.id)
    ).first()
    if subscription is None or order.state != OrderState.ACTIVE:
        flash(_("Seule une boîte active peut changer d'offre."), "error")
        return redirect(url_for("subscriptions.order", order_id=order.id))
    view = services.order_view(session, order)
    professional = current_professional()
    choices = []
    for offer in session.exec(
        select(Offer).where(Offer.status == OfferStatus.PUBLISHED).order_by(Offer.name)
    ):
        if offer.id == view.offer.id:
            continue
        if check_eligibility(session, offer, professional, replaces_order_id=order.id).eligible:
            choices.append(offer)
    return render_template(
        "subscriptions/switch.html", view=view, offers=choices, subscription=subscription
    )
