"""The catalogue as CSV (the whole of it, or what the filters keep)."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from portal.catalogue.exports import neutralise
from portal.catalogue.models import ComparisonAttribute
from tests.catalogue.pages import published
from tests.factories import make_offer


def _csv(response) -> list[list[str]]:
    return list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )


def test_the_whole_catalogue_one_line_per_offer_with_every_attribute(client, db_session):
    response = client.get("/offres?format=csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="offres-mssante.csv"'
    rows = _csv(response)
    attributes = db_session.exec(select(ComparisonAttribute)).all()
    assert rows[0][:9] == [
        "Identifiant",
        "Offre",
        "Opérateur",
        "Type d’opérateur",
        "Données de démonstration",
        "Territoire",
        "Prix HT en centimes par période",
        "Période de facturation",
        "Adresse de la fiche",
    ]
    assert len(rows[0]) == 9 + len(attributes)
    assert len(rows) == 1 + len(published(db_session))
    mailiz = next(row for row in rows if row[0] == "mailiz")
    assert mailiz[1:7] == [
        "Mailiz",
        "Mailiz",
        "Opérateur national",
        "Non",
        "Partout en France",
        "0",
    ]
    assert mailiz[8] == "http://localhost/offres/mailiz"


def test_the_csv_follows_the_filters_and_the_language(client, db_session):
    rows = _csv(client.get("/offres?format=csv&type=APP&lang=en"))
    expected = {o.slug for o, _ in published(db_session) if "APP" in o.mailbox_types}
    assert {row[0] for row in rows[1:]} == expected
    assert rows[0][0] == "Identifier"


def test_no_cell_can_start_a_formula(client, db_session):
    make_offer(
        db_session,
        slug="formule",
        name="=1+2",
        features={"data_location": {"fr": "-1", "en": "-1"}},
    )
    db_session.commit()
    row = next(r for r in _csv(client.get("/offres?format=csv")) if r[0] == "formule")
    assert row[1] == "'=1+2"
    assert [neutralise(v) for v in ("+33", "@x", "-2", "\tx", "ok", None, 5)] == [
        "'+33",
        "'@x",
        "'-2",
        "'\tx",
        "ok",
        "",
        "5",
    ]
