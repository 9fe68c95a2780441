"""Payment pages of an order: choose how to pay, the purchase order form (HTML and PDF)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select
from werkzeug.wrappers import Response

from portal.accounts.policy import Role, allow
from portal.accounts.session import current_account, login_required
from portal.db import get_session
from portal.i18n import current_language
from portal.payments import access, checkout, purchase_orders, stripe_payments
from portal.payments.forms import ConfirmationForm, PurchaseOrderForm
from portal.payments.stripe_service import PaymentServiceUnavailable
from portal.subscriptions import services, states
from portal.subscriptions.models import Order, OrderState, PaymentMethod

blueprint = Blueprint("payments", __name__)


def _order_for_payer(order_id: int) -> Order:
    session = get_session()
    order = session.get(Order, order_id)
    if order is None or not access.can_pay_order(session, current_account(), order):
        abort(404)  # no hint that someone else's order exists
    return order


def purchase_order_allowed(order: Order) -> bool:
    """Structures may always pay on invoice; everyone may when card payment is unavailable."""
    return order.structure_id is not None or stripe_payments() is None


@blueprint.get("/commandes/<int:order_id>/paiement")
@login_required
def payment(order_id: int):
    order = _order_for_payer(order_id)
    form = PurchaseOrderForm(data={"number": order.purchase_order_number})
    return _payment_page(order, form)


def _payment_page(order: Order, form: PurchaseOrderForm, status: int = 200):
    service = stripe_payments()
    return (
        render_template(
            "payments/payment.html",
            order=order,
            awaiting=order.state == OrderState.AWAITING_PAYMENT,
            stripe=service,
            purchase_order_allowed=purchase_order_allowed(order),
            form=form,
            reference=purchase_orders.order_reference(order),
            payment_failed=checkout.last_payment_failed(get_session(), order),
        ),
        status,
    )


@blueprint.post("/commandes/<int:order_id>/paiement/bon-de-commande")
@login_required
def choose_purchase_order(order_id: int):
    order = _order_for_payer(order_id)
    if order.state != OrderState.AWAITING_PAYMENT or not purchase_order_allowed(order):
        flash(_("Cette commande ne peut plus être réglée par bon de commande."), "error")
        return redirect(url_for("payments.payment", order_id=order.id))
    form = PurchaseOrderForm()
    if not form.validate_on_submit():
        return _payment_page(order, form, 400)
    order.payment_method = PaymentMethod.PURCHASE_ORDER
    order.purchase_order_number = form.number.data or None
    session = get_session()
    session.add(order)
    session.commit()
    flash(
        _(
            "Le bon de commande est prêt. Imprimez-le, faites-le signer et envoyez-le au "
            "fournisseur : les boîtes seront créées dès sa réception."
        ),
        "success",
    )
    return redirect(url_for("payments.order_form", order_id=order.id))


def _order_for_form(order_id: int) -> Order:
    session = get_session()
    order = session.get(Order, order_id)
    if order is None or not access.can_view_order_form(session, current_account(), order):
        abort(404)
    if order.payment_method != PaymentMethod.PURCHASE_ORDER:
        abort(404)
    return order


@blueprint.get("/commandes/<int:order_id>/bon-de-commande")
@login_required
def order_form(order_id: int):
    order = _order_for_form(order_id)
    form = purchase_orders.order_form(get_session(), order, locale=current_language())
    return render_template("payments/order_form.html", order=order, form=form)


@blueprint.get("/commandes/<int:order_id>/bon-de-commande.pdf")
@login_required
def order_form_pdf(order_id: int):
    order = _order_for_form(order_id)
    form = purchase_orders.order_form(get_session(), order, locale=current_language())
    pdf = purchase_orders.order_form_pdf(form)
    download = request.args.get("telecharger") == "1"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": (
                f'{"attachment" if download else "inline"}; filename="{form.reference}.pdf"'
            )
        },
    )


# Staff: purchase orders received ------------------------------------------------------------


def _staff_orders(session, account) -> list[Order]:
    """Orders waiting for their purchase order that this staff member may mark received."""
    candidates = session.exec(
        select(Order)
        .where(Order.state == OrderState.AWAITING_PAYMENT)
        .where(Order.payment_method == PaymentMethod.PURCHASE_ORDER)
        .order_by(Order.id)
    ).all()
    return [order for order in candidates if access.is_payment_staff(session, account, order)]


@blueprint.get("/espace-operateur/bons-de-commande")
@allow(Role.OPERATOR_ADMIN)
def purchase_orders_to_receive():
    session = get_session()
    account = current_account()
    rows = [
        (order, purchase_orders.order_form(session, order, locale=current_language()))
        for order in _staff_orders(session, account)
    ]
    return render_template("payments/staff_purchase_orders.html", rows=rows)


def _order_for_staff(order_id: int) -> Order:
    session = get_session()
    order = session.get(Order, order_id)
    if order is None or order.payment_method != PaymentMethod.PURCHASE_ORDER:
        abort(404)
    if not access.is_payment_staff(session, current_account(), order):
        abort(403)
    return order


@blueprint.route(
    "/espace-operateur/bons-de-commande/<int:order_id>/reception", methods=["GET", "POST"]
)
@allow(Role.OPERATOR_ADMIN)
def receive_purchase_order(order_id: int):
    order = _order_for_staff(order_id)
    session = get_session()
    form = ConfirmationForm()
    if order.state != OrderState.AWAITING_PAYMENT:
        flash(_("Ce bon de commande est déjà enregistré comme reçu."), "info")
        return redirect(url_for("payments.purchase_orders_to_receive"))
    if request.method == "POST" and form.validate_on_submit():
        locked = states.lock_order(session, order.id)
        account = current_account()
        checkout.mark_paid(
            session,
            locked,
            actor=f"staff:{account.id}",
            reason="Purchase order received",
        )
        session.commit()
        flash(
            _(
                "Bon de commande %(reference)s enregistré comme reçu : la création des boîtes "
                "commence.",
                reference=purchase_orders.order_reference(order),
            ),
            "success",
        )
        return redirect(url_for("payments.purchase_orders_to_receive"))
    order_form_data = purchase_orders.order_form(session, order, locale=current_language())
    return render_template(
        "payments/receive_purchase_order.html", order=order, form=form, order_form=order_form_data
    )


# Cancelling an order that was paid but never became a mailbox --------------------------------

REFUNDABLE_STATES = (
    OrderState.AWAITING_PAYMENT,
    OrderState.PAYMENT_PENDING,
    OrderState.NEEDS_ATTENTION,
)


@blueprint.route("/commandes/<int:order_id>/annulation", methods=["GET", "POST"])
@login_required
def cancel_order(order_id: int):
    """The payer (or payment staff) cancels; whatever was paid is refunded."""
    session = get_session()
    account = current_account()
    order = session.get(Order, order_id)
    if order is None or not access.can_view_order_form(session, account, order):
        abort(404)
    if order.state not in REFUNDABLE_STATES:
        flash(_("Cette commande ne peut plus être annulée ici."), "error")
        return redirect(f"/commandes/{order.id}")
    form = ConfirmationForm()
    if request.method == "POST" and form.validate_on_submit():
        actor = (
            f"account:{account.id}"
            if access.can_pay_order(session, account, order)
            else f"staff:{account.id}"
        )
        try:
            # The subscriptions domain cancels, so the order's addresses are freed as well.
            services.cancel_order(
                session, order, account=account, payments=stripe_payments(), actor=actor
            )
        except PaymentServiceUnavailable:
            session.rollback()
            flash(
                _(
                    "Le service de paiement ne répond pas : la commande n’est pas annulée. "
                    "Réessayez dans quelques minutes."
                ),
                "error",
            )
            return redirect(url_for("payments.cancel_order", order_id=order.id))
        session.commit()
        refunded = session.get(Order, order.id).state == OrderState.REFUNDED
        flash(
            _("La commande est annulée et le paiement remboursé.")
            if refunded
            else _("La commande est annulée ; rien n’a été prélevé."),
            "success",
        )
        return redirect(f"/commandes/{order.id}")
    return render_template(
        "payments/cancel.html",
        order=order,
        form=form,
        reference=purchase_orders.order_reference(order),
        paid=bool(order.stripe_subscription_id),
    )
