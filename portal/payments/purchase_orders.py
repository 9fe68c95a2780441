"""Purchase orders: the printable order form (HTML and PDF) for structures that pay on invoice.

:func:`order_form` gathers what the form shows: the buyer with its identifiers, the supplier,
the accepted terms and the amounts of the order's quote. The HTML template and
:func:`order_form_pdf` both render that one object, so the two never disagree.

The PDF is drawn with ReportLab, a pure-Python PDF library maintained since 2000 (BSD
licence, wheels on PyPI, no system libraries needed, unlike HTML-to-PDF engines that need
Pango or a browser). Its built-in Helvetica covers French text and the euro sign.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from babel.dates import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlmodel import Session, select

from portal.accounts.models import Account, Professional, Structure
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.money import format_money, format_percent_bp
from portal.subscriptions.models import Order, OrderLine


@dataclass(frozen=True)
class FormLine:
    description: str
    quantity: int
    unit_cents: int  # excluding VAT; negative for a subsidy

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_cents


@dataclass(frozen=True)
class OrderForm:
    reference: str
    issued_on: dt.date
    currency: str
    locale: str
    buyer_name: str
    buyer_identifiers: list[tuple[str, str]]  # (label, value)
    buyer_address: list[str]
    ordered_by: str
    ordered_by_email: str | None
    supplier_name: str
    offer_name: str
    revision_number: int
    billing_period: str
    commitment_months: int
    vat_rate_bp: int
    purchase_order_number: str | None
    mailbox_addresses: list[str]
    lines: list[FormLine] = field(default_factory=list)

    @property
    def total_excluding_vat_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def vat_cents(self) -> int:
        from portal.subscriptions.quotes import vat_of

        return vat_of(self.total_excluding_vat_cents, self.vat_rate_bp)

    @property
    def total_including_vat_cents(self) -> int:
        return self.total_excluding_vat_cents + self.vat_cents

    def money(self, cents: int) -> str:
        return format_money(cents, self.currency, self.locale)

    @property
    def issued_on_text(self) -> str:
        return format_date(
            self.issued_on, format="long", locale="fr_FR" if self.locale == "fr" else "en_GB"
        )

    @property
    def vat_rate(self) -> str:
        return format_percent_bp(self.vat_rate_bp, self.locale)


def order_reference(order: Order) -> str:
    """The number printed on the form and quoted on the invoice: ``BC-2026-000123``."""
    return f"BC-{order.created_at.year}-{order.id:06d}"


def order_form(session: Session, order: Order, *, locale: str) -> OrderForm:
    revision = session.get(OfferRevision, order.offer_revision_id)
    offer = session.get(Offer, revision.offer_id)
    operator = session.get(Operator, offer.operator_id)
    account = session.get(Account, order.account_id)
    lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position)
    ).all()
    mailboxes = max(len(lines), 1)
    buyer_name, identifiers, address = _buyer(session, order, account)
    period = _("mois") if revision.billing_period == "month" else _("an")
    quote = order.quote or {}
    if "unit_price_cents" in quote:  # the accepted quote (portal.subscriptions.quotes)
        mailboxes = int(quote["mailboxes"])
        price, setup = int(quote["unit_price_cents"]), int(quote["setup_fee_cents"])
        subsidy_period = int(quote["subsidy_per_period_cents"])
        subsidy_setup = int(quote["subsidy_setup_cents"])
        subsidy_months = quote.get("subsidy_months")
    else:
        price, setup = revision.price_cents, revision.setup_fee_cents
        subsidy_period = subsidy_setup = 0
        subsidy_months = None
    form_lines = [
        FormLine(
            _("Abonnement %(offer)s, par boîte et par %(period)s", offer=offer.name, period=period),
            mailboxes,
            price,
        )
    ]
    if setup:
        form_lines.append(FormLine(_("Frais de mise en service"), mailboxes, setup))
    if subsidy_period or subsidy_setup:
        label = (
            ngettext(
                "Prise en charge régionale (%(months)s mois)",
                "Prise en charge régionale (%(months)s mois)",
                subsidy_months,
                months=subsidy_months,
            )
            if subsidy_months
            else _("Prise en charge régionale")
        )
        form_lines.append(FormLine(label, mailboxes, -(subsidy_period + subsidy_setup)))
    return OrderForm(
        reference=order_reference(order),
        issued_on=(order.submitted_at or order.created_at).date(),
        currency=revision.currency,
        locale=locale,
        buyer_name=buyer_name,
        buyer_identifiers=identifiers,
        buyer_address=address,
        ordered_by=account.display_name if account else "",
        ordered_by_email=order.contact_address(account),
        supplier_name=operator.name,
        offer_name=offer.name,
        revision_number=revision.number,
        billing_period=revision.billing_period,
        commitment_months=revision.commitment_months,
        vat_rate_bp=revision.vat_rate_bp,
        purchase_order_number=order.purchase_order_number,
        mailbox_addresses=[line.address for line in lines if line.address],
        lines=form_lines,
    )


def _buyer(
    session: Session, order: Order, account: Account | None
) -> tuple[str, list[tuple[str, str]], list[str]]:
    if order.structure_id:
        structure = session.get(Structure, order.structure_id)
        identifiers = [
            (label, value)
            for label, value in (
                ("FINESS", structure.finess),
                (_("FINESS juridique"), structure.finess_ej),
                ("SIRET", structure.siret),
                ("SIREN", structure.siren),
            )
            if value
        ]
        address = [
            part
            for part in (
                structure.address_line,
                " ".join(p for p in (structure.postal_code, structure.city) if p),
            )
            if part
        ]
        return structure.name, identifiers, address
    if order.professional_id:
        professional = session.get(Professional, order.professional_id)
        name = f"{professional.first_name} {professional.last_name}"
        identifiers = [("RPPS", professional.rpps)] if professional.rpps else []
        return name, identifiers, []
    return (account.display_name if account else ""), [], []


# PDF --------------------------------------------------------------------------------------


def _pdf_text(text: str) -> str:
    # Helvetica has no narrow no-break space (Babel's French thousands separator).
    return text.replace("\u202f", "\u00a0")


def order_form_pdf(form: OrderForm) -> bytes:
    """The order form as an A4 PDF."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()

    def para(text: str, style: str = "BodyText") -> Paragraph:
        return Paragraph(escape(_pdf_text(text)), styles[style])

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{_('Bon de commande')} {form.reference}",
        author=_("Portail des offres MSSanté"),
        lang=form.locale,
    )
    story: list = [
        para(_("Bon de commande"), "Title"),
        para(_("Référence : %(reference)s", reference=form.reference)),
        para(_("Date : %(date)s", date=form.issued_on_text)),
    ]
    if form.purchase_order_number:
        story.append(
            para(_("Votre numéro de commande : %(number)s", number=form.purchase_order_number))
        )
    story += [Spacer(1, 4 * mm), para(_("Acheteur"), "Heading2"), para(form.buyer_name)]
    story += [para(f"{label} : {value}") for label, value in form.buyer_identifiers]
    story += [para(line) for line in form.buyer_address]
    story.append(para(_("Commande passée par %(name)s", name=form.ordered_by)))
    if form.ordered_by_email:
        story.append(para(form.ordered_by_email))
    story += [
        Spacer(1, 4 * mm),
        para(_("Fournisseur"), "Heading2"),
        para(form.supplier_name),
        para(
            _(
                "Offre %(offer)s, conditions n° %(number)s",
                offer=form.offer_name,
                number=form.revision_number,
            )
        ),
    ]
    if form.commitment_months:
        story.append(
            para(
                ngettext(
                    "Engagement minimal : %(months)s mois",
                    "Engagement minimal : %(months)s mois",
                    form.commitment_months,
                    months=form.commitment_months,
                )
            )
        )
    story += [Spacer(1, 4 * mm), para(_("Montants de la première période"), "Heading2")]
    rows = [[_("Désignation"), _("Quantité"), _("Prix unitaire HT"), _("Total HT")]]
    rows += [
        [
            para(line.description),
            str(line.quantity),
            _pdf_text(form.money(line.unit_cents)),
            _pdf_text(form.money(line.total_cents)),
        ]
        for line in form.lines
    ]
    rows += [
        ["", "", _("Total HT"), _pdf_text(form.money(form.total_excluding_vat_cents))],
        [
            "",
            "",
            _("TVA %(rate)s", rate=_pdf_text(form.vat_rate)),
            _pdf_text(form.money(form.vat_cents)),
        ],
        ["", "", _("Total TTC"), _pdf_text(form.money(form.total_including_vat_cents))],
    ]
    table = Table(rows, colWidths=[80 * mm, 22 * mm, 36 * mm, 36 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (2, -3), (-1, -3), 0.5, colors.black),
                ("FONTNAME", (2, -1), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    story.append(table)
    if form.mailbox_addresses:
        story += [Spacer(1, 4 * mm), para(_("Boîtes aux lettres commandées"), "Heading2")]
        story += [para(address) for address in form.mailbox_addresses]
    story += [
        Spacer(1, 6 * mm),
        para(
            _(
                "Renvoyez ce bon signé au fournisseur. Les boîtes sont créées dès que le "
                "fournisseur ou la plateforme enregistre sa réception ; la facture suit."
            )
        ),
        Spacer(1, 14 * mm),
        para(_("Date, nom, qualité et signature de l’acheteur :")),
    ]
    document.build(story)
    return buffer.getvalue()
