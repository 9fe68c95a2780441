"""What the observatory shows: labels, figures as text, and the charts of the indicators."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from flask_babel import format_decimal, format_percent, format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from portal.catalogue.filters import OPERATOR_KIND_LABELS
from portal.catalogue.models import Region
from portal.observatory.charts import BarChart, bar_chart
from portal.observatory.indicators import UNKNOWN, Count, NationalIndicators

MAILBOX_TYPE_LABELS = {
    "PER": _l("Personnelle (PER)"),
    "ORG": _l("Organisationnelle (ORG)"),
    "APP": _l("Applicative (APP)"),
    "CAB": _l("Cabinet (CAB)"),
}


def duration_text(duration: dt.timedelta | None) -> str:
    if duration is None:
        return _("non mesuré")
    return format_timedelta(duration, threshold=1.5)


def share_text(share: float | None) -> str:
    return _("non mesuré") if share is None else format_percent(share, "#,##0.0 %")


def region_labels(session: Session) -> dict[str, str]:
    labels = dict(session.exec(select(Region.code, Region.name)).all())
    labels[UNKNOWN] = _("Région non connue")
    return labels


def _rows(counts: Iterable[Count], labels: dict) -> list[tuple[str, float, str]]:
    return [(str(labels.get(c.code, c.code)), c.count, format_decimal(c.count)) for c in counts]


def national_charts(indicators: NationalIndicators, regions: dict[str, str]) -> list[BarChart]:
    total = format_decimal(indicators.provisioned_total)
    return [
        bar_chart(
            id="par-region",
            title=_("Boîtes aux lettres ouvertes par région"),
            description=_(
                "Nombre de boîtes aux lettres ouvertes par le portail dans chaque région, "
                "%(total)s en tout.",
                total=total,
            ),
            column_label=_("Région"),
            value_label=_("Boîtes aux lettres"),
            rows=_rows(indicators.by_region, regions),
        ),
        bar_chart(
            id="par-type",
            title=_("Boîtes aux lettres ouvertes par type"),
            description=_(
                "Nombre de boîtes aux lettres ouvertes par le portail pour chaque type de "
                "boîte, %(total)s en tout.",
                total=total,
            ),
            column_label=_("Type de boîte aux lettres"),
            value_label=_("Boîtes aux lettres"),
            rows=_rows(indicators.by_type, MAILBOX_TYPE_LABELS),
        ),
        bar_chart(
            id="par-type-operateur",
            title=_("Boîtes aux lettres ouvertes par type d’opérateur"),
            description=_(
                "Nombre de boîtes aux lettres ouvertes par le portail selon le type d’opérateur "
                "qui les héberge, %(total)s en tout.",
                total=total,
            ),
            column_label=_("Type d’opérateur"),
            value_label=_("Boîtes aux lettres"),
            rows=_rows(indicators.by_operator_kind, OPERATOR_KIND_LABELS),
        ),
    ]


def open_data_rows(indicators: NationalIndicators) -> Iterable[list[object]]:
    """The open-data file: one figure a line, with stable machine-readable column names."""
    yield ["indicateur", "code", "valeur"]
    yield ["boites_ouvertes", "total", indicators.provisioned_total]
    for count in indicators.by_region:
        yield ["boites_ouvertes_par_region", count.code or "inconnue", count.count]
    for count in indicators.by_type:
        yield ["boites_ouvertes_par_type", count.code, count.count]
    for count in indicators.by_operator_kind:
        yield ["boites_ouvertes_par_type_operateur", count.code, count.count]
    yield ["commandes", "total", indicators.orders_total]
    yield ["commandes_subventionnees", "total", indicators.subsidised_orders]
    yield ["activations_mesurees", "total", indicators.activations_measured]
    median = indicators.median_time_to_active
    yield [
        "delai_median_activation_secondes",
        "total",
        "" if median is None else round(median.total_seconds()),
    ]
