"""CSV downloads of the catalogue and of a comparison, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from flask import Response, url_for
from flask_babel import gettext as _

from portal.catalogue import presenters
from portal.catalogue.index import CatalogueEntry, CatalogueIndex

# A cell starting with one of these is read as a formula by spreadsheet software.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Text of a CSV cell that no spreadsheet will run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(rows: Iterable[list[object]], filename: str) -> Response:
    buffer = io.StringIO()
    # Semicolons and a byte-order mark: what spreadsheet software expects in French locales.
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def catalogue_rows(entries: list[CatalogueEntry], index: CatalogueIndex) -> Iterable[list]:
    """One line per offer: identity, list price in cents, then every grid attribute."""
    attributes = [a for _group, group in index.grid() for a in group]
    yield [
        _("Identifiant"),
        _("Offre"),
        _("Opérateur"),
        _("Type d’opérateur"),
        _("Données de démonstration"),
        _("Territoire"),
        _("Prix HT en centimes par période"),
        _("Période de facturation"),
        _("Adresse de la fiche"),
        *[presenters.text(a.label) for a in attributes],
    ]
    for entry in entries:
        yield [
            entry.slug,
            entry.name,
            entry.operator.name,
            presenters.text(
                presenters.OPERATOR_KIND_LABELS.get(entry.operator.kind, entry.operator.kind)
            ),
            _("Oui") if entry.demo else _("Non"),
            presenters.coverage_text(entry, index),
            entry.price_cents,
            entry.billing_period,
            url_for("catalogue.offer", slug=entry.slug, _external=True),
            *[presenters.attribute_cell(a, entry).text for a in attributes],
        ]


def comparison_rows(entries: list[CatalogueEntry], index: CatalogueIndex) -> Iterable[list]:
    """The comparison table: one line per attribute, one column per offer."""
    yield [_("Rubrique"), _("Caractéristique"), *[entry.name for entry in entries]]
    yield ["", _("Opérateur"), *[entry.operator.name for entry in entries]]
    for group in presenters.grid(entries, index):
        for row in group.rows:
            yield [group.label, row.label, *[cell.text for cell in row.cells]]
