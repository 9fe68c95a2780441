"""What the portal knows was billed to a structure, for its space.

Two sources, both owned by :mod:`portal.payments` and only read here:

- Stripe invoices, as received by the webhook (:class:`PaymentEvent` rows of type
  ``invoice.*`` tied to the structure's orders); the latest event of an invoice gives its status;
- purchase order forms of orders paid on invoice (the same figures as the printable form and
  its PDF, :func:`portal.payments.purchase_orders.order_form`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from portal.payments.models import PaymentEvent
from portal.payments.purchase_orders import order_form, order_reference
from portal.subscriptions.models import Order, OrderState, PaymentMethod

STRIPE_STATUS = {
    "draft": _l("En préparation"),
    "open": _l("À payer"),
    "paid": _l("Payée"),
    "void": _l("Annulée"),
    "uncollectible": _l("Impayée"),
}
PURCHASE_ORDER_WAITING = (OrderState.AWAITING_PAYMENT, OrderState.PAYMENT_PENDING)
PURCHASE_ORDER_VOID = (OrderState.CANCELLED, OrderState.REFUNDED, OrderState.REJECTED)


@dataclass(frozen=True)
class InvoiceRow:
    order_id: int
    kind: str  # "stripe" | "purchase_order"
    reference: str
    issued_on: dt.date
    before_vat_cents: int
    total_cents: int
    currency: str
    status: str
    url: str | None  # the purchase order PDF, or the invoice page at Stripe


def _stripe_rows(session: Session, orders: dict[int, Order]) -> list[InvoiceRow]:
    events = session.exec(
        select(PaymentEvent)
        .where(PaymentEvent.order_id.in_(list(orders)), PaymentEvent.type.startswith("invoice."))
        .order_by(PaymentEvent.received_at, PaymentEvent.id)
    ).all()
    latest: dict[str, tuple[int, dict]] = {}
    for event in events:
        invoice = ((event.payload or {}).get("data") or {}).get("object") or {}
        if invoice.get("object", "invoice") != "invoice" or not invoice.get("id"):
            continue
        latest[invoice["id"]] = (event.order_id, invoice)  # later events override earlier ones
    rows = []
    for order_id, invoice in latest.values():
        total = int(invoice.get("total") or invoice.get("amount_due") or 0)
        before_vat = invoice.get("total_excluding_tax")
        if before_vat is None:
            before_vat = total - int(invoice.get("tax") or 0)
        created = invoice.get("created")
        issued = (
            dt.datetime.fromtimestamp(int(created), tz=dt.UTC).date()
            if created
            else orders[order_id].created_at.date()
        )
        status = invoice.get("status") or ""
        rows.append(
            InvoiceRow(
                order_id=order_id,
                kind="stripe",
                reference=invoice.get("number") or invoice["id"],
                issued_on=issued,
                before_vat_cents=int(before_vat),
                total_cents=total,
                currency=(invoice.get("currency") or orders[order_id].currency).upper(),
                status=str(STRIPE_STATUS.get(status, status)),
                url=invoice.get("hosted_invoice_url") or invoice.get("invoice_pdf"),
            )
        )
    return rows


def _purchase_order_status(order: Order) -> str:
    if order.state in PURCHASE_ORDER_WAITING:
        return str(_l("Bon de commande à envoyer à l’opérateur"))
    if order.state in PURCHASE_ORDER_VOID:
        return str(_l("Annulé"))
    return str(_l("Bon de commande reçu par l’opérateur"))


def invoices_of(session: Session, structure_id: int, *, locale: str, pdf_url) -> list[InvoiceRow]:
    """The structure's invoices, most recent first. ``pdf_url(order_id)`` links a form's PDF."""
    orders = {
        order.id: order
        for order in session.exec(
            select(Order).where(Order.structure_id == structure_id, Order.state != OrderState.DRAFT)
        ).all()
    }
    if not orders:
        return []
    rows = _stripe_rows(session, orders)
    for order in orders.values():
        if order.payment_method != PaymentMethod.PURCHASE_ORDER:
            continue
        form = order_form(session, order, locale=locale)
        rows.append(
            InvoiceRow(
                order_id=order.id,
                kind="purchase_order",
                reference=order_reference(order),
                issued_on=form.issued_on,
                before_vat_cents=form.total_excluding_vat_cents,
                total_cents=form.total_including_vat_cents,
                currency=form.currency,
                status=_purchase_order_status(order),
                url=pdf_url(order.id),
            )
        )
    return sorted(rows, key=lambda row: (row.issued_on, row.order_id), reverse=True)
