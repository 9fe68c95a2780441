"""Payment pages of an order: choose how to pay, the purchase order form (HTML and PDF)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.accounts.session import current_account, login_required
from portal.db import get_session
from portal.i18n import current_language
from portal.payments import access, purchase_orders, stripe_payments
from portal.payments.forms import PurchaseOrderForm
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
