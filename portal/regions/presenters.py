"""What the region dashboard shows: labels, charts (drawn like the observatory's) and CSV rows."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.i18n import localised
from portal.observatory.charts import BarChart, bar_chart
from portal.observatory.presenters import MAILBOX_TYPE_LABELS, duration_text
from portal.regions.dashboard import RegionDashboard

ORDER_STATE_LABELS = {
    "draft": _l("Brouillon"),
    "submitted": _l("Envoyée"),
    "awaiting_approval": _l("En attente d’approbation"),
    "approved": _l("Approuvée"),
    "rejected": _l("Refusée"),
    "awaiting_payment": _l("En attente de paiement"),
    "payment_pending": _l("Paiement en cours"),
    "paid": _l("Payée"),
    "provisioning": _l("Ouverture en cours"),
    "active": _l("Active"),
    "needs_attention": _l("À traiter"),
    "cancelled": _l("Annulée"),
    "refunded": _l("Remboursée"),
    "suspended": _l("Suspendue"),
    "terminating": _l("Résiliation en cours"),
    "terminated": _l("Résiliée"),
}

FUNNEL_LABELS = {
    "views": _l("Vues des offres financées"),
    "orders": _l("Commandes passées"),
    "requested_mailboxes": _l("Boîtes aux lettres demandées"),
    "active_mailboxes": _l("Boîtes aux lettres actives"),
}


def state_label(state: str) -> str:
    return str(ORDER_STATE_LABELS.get(state, state))


def _n(value: int) -> str:
    return format_decimal(value)


def dashboard_charts(board: RegionDashboard) -> list[BarChart]:
    return [
        bar_chart(
            id="commandes-par-etat",
            title=_("Commandes par état"),
            description=_(
                "Nombre de commandes de la région dans chaque état, %(total)s en tout.",
                total=_n(board.orders_total),
            ),
            column_label=_("État"),
            value_label=_("Commandes"),
            rows=[(state_label(s), c, _n(c)) for s, c in board.orders_by_state if c],
        ),
        bar_chart(
            id="boites-par-type",
            title=_("Boîtes aux lettres actives par type"),
            description=_("Nombre de boîtes aux lettres actives de la région pour chaque type."),
            column_label=_("Type de boîte aux lettres"),
            value_label=_("Boîtes aux lettres"),
            rows=[(str(MAILBOX_TYPE_LABELS[t]), c, _n(c)) for t, c in board.mailboxes_by_type],
        ),
        bar_chart(
            id="boites-par-departement",
            title=_("Boîtes aux lettres actives par département"),
            description=_(
                "Nombre de boîtes aux lettres actives dans chaque département de la région."
            ),
            column_label=_("Département"),
            value_label=_("Boîtes aux lettres"),
            rows=[
                (f"{name} ({code})", c, _n(c)) for code, name, c in board.mailboxes_by_department
            ],
        ),
        bar_chart(
            id="entonnoir",
            title=_("Des vues des offres aux boîtes actives"),
            description=_(
                "Combien de fois les offres financées par la région ont été consultées, puis "
                "combien de commandes, de boîtes demandées et de boîtes actives en ont résulté."
            ),
            column_label=_("Étape"),
            value_label=_("Nombre"),
            rows=[(str(FUNNEL_LABELS[s.key]), s.count, _n(s.count)) for s in board.funnel],
        ),
    ]


def share_text(share: float | None) -> str:
    return _("sans quota") if share is None else format_percent(share, "#,##0 %")


def dashboard_rows(board: RegionDashboard) -> Iterable[list[object]]:
    """The dashboard's figures as a CSV file: one figure a line, stable column names."""
    yield ["indicateur", "code", "libelle", "valeur"]
    for state, count in board.orders_by_state:
        yield ["commandes_par_etat", state, state_label(state), count]
    for code, count in board.mailboxes_by_type:
        yield ["boites_actives_par_type", code, str(MAILBOX_TYPE_LABELS[code]), count]
    for code, name, count in board.mailboxes_by_department:
        yield ["boites_actives_par_departement", code, name, count]
    for use in board.programmes:
        p = use.programme
        yield ["quota_utilise", p.slug, localised(p.name), p.quota_used]
        yield [
            "quota",
            p.slug,
            localised(p.name),
            "" if p.quota_mailboxes is None else p.quota_mailboxes,
        ]
    for step in board.funnel:
        yield ["entonnoir", step.key, str(FUNNEL_LABELS[step.key]), step.count]
    median = board.median_time_to_active
    yield [
        "delai_median_activation_secondes",
        "total",
        duration_text(median),
        "" if median is None else round(median.total_seconds()),
    ]
