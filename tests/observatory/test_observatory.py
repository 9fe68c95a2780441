"""The public observatory, read as a visitor reads it: figures, charts, tables and open data."""

from __future__ import annotations

import csv
import datetime as dt
import io

from bs4 import BeautifulSoup

from portal.accounts.models import Activity
from portal.catalogue.exports import neutralise
from portal.observatory.charts import bar_chart, nice_maximum
from portal.regions.models import SubsidyProgramme
from portal.subscriptions.models import Mailbox, Order, OrderEvent
from tests.factories import (
    make_account,
    make_offer,
    make_operator,
    make_professional,
    make_structure,
)

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def figure(page: BeautifulSoup, name: str) -> str:
    text = page.select_one(f'[data-figure="{name}"]').get_text(strip=True)
    return text.replace("\u202f", " ").replace("\xa0", " ")


def table_of(page: BeautifulSoup, chart_id: str) -> dict[str, str]:
    rows = page.select(f'[data-chart="{chart_id}"] table tbody tr')
    return {row.th.get_text(strip=True): row.td.get_text(strip=True) for row in rows}


def open_data(client) -> list[list[str]]:
    response = client.get("/observatoire/donnees.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )


def place_order(
    session,
    *,
    offer,
    structure=None,
    professional=None,
    programme=None,
    hours_to_active: float | None = None,
    mailbox_type="ORG",
    state="active",
):
    account = make_account(session)
    order = Order(
        idempotency_key=f"test-{account.id}",
        account_id=account.id,
        structure_id=structure.id if structure else None,
        professional_id=professional.id if professional else None,
        offer_revision_id=offer.current_revision_id,
        programme_id=programme.id if programme else None,
        state=state,
        created_at=NOW,
        submitted_at=NOW,
    )
    session.add(order)
    session.flush()
    if hours_to_active is not None:
        activated = NOW + dt.timedelta(hours=hours_to_active)
        session.add(
            OrderEvent(
                order_id=order.id,
                from_state="provisioning",
                to_state="active",
                actor="system",
                created_at=activated,
            )
        )
        session.add(
            Mailbox(
                address=f"boite{order.id}@test.mssante.fr",
                type=mailbox_type,
                operator_id=offer.operator_id,
                structure_id=structure.id if structure else None,
                professional_id=professional.id if professional else None,
                state="active",
                activated_at=activated,
            )
        )
    session.flush()
    return order


def test_observatory_is_in_the_main_menu_and_says_when_there_is_no_data(client):
    page = soup(client.get("/observatoire"))
    menu = [a["href"] for a in page.select("#navigation-principale a")]
    assert "/observatoire" in menu
    assert page.h1.get_text(strip=True) == "Observatoire de la messagerie sécurisée de santé"
    assert page.select_one("[data-testid=observatory-empty]") is not None
    assert figure(page, "provisioned") == "0"
    assert figure(page, "median-time") == "non mesuré"
    assert figure(page, "subsidised-share") == "non mesuré"
    # Charts with nothing to draw say so, and draw no empty picture.
    assert len(page.select("[data-testid=chart-empty]")) == 3
    assert page.select("svg.portal-chart__svg") == []
    rows = open_data(client)
    assert rows[0] == ["indicateur", "code", "valeur"]
    assert ["boites_ouvertes", "total", "0"] in rows
    assert ["delai_median_activation_secondes", "total", ""] in rows


def test_indicators_count_mailboxes_by_region_type_and_operator_kind(client, db_session):
    regional = make_operator(db_session, kind="regional")
    commercial = make_operator(db_session, kind="commercial")
    org_offer = make_offer(db_session, operator=regional, mailbox_types=["ORG"])
    per_offer = make_offer(db_session, operator=commercial, mailbox_types=["PER"])
    paris = make_structure(
        db_session, department_code="75", finess="759990021"
    )  # Île-de-France, 11
    lyon = make_structure(
        db_session, department_code="69", finess="699990021"
    )  # Auvergne-Rhône-Alpes, 84
    ajaccio = make_structure(db_session, department_code="2A", finess="2A0000001")  # Corse, 94
    programme = SubsidyProgramme(
        slug="programme-observatoire",
        region_code="11",
        offer_id=org_offer.id,
        name={"fr": "Programme", "en": "Programme"},
        rule="free",
    )
    db_session.add(programme)
    db_session.flush()
    place_order(
        db_session, offer=org_offer, structure=paris, programme=programme, hours_to_active=2
    )
    place_order(
        db_session, offer=org_offer, structure=paris, programme=programme, hours_to_active=4
    )
    place_order(db_session, offer=org_offer, structure=ajaccio, hours_to_active=30)
    doctor = make_professional(db_session)
    db_session.add(Activity(professional_id=doctor.id, structure_id=lyon.id))
    place_order(
        db_session, offer=per_offer, professional=doctor, mailbox_type="PER", hours_to_active=6
    )
    # Ordered but not active yet: counts as an order, not as a mailbox.
    place_order(
        db_session,
        offer=per_offer,
        professional=make_professional(db_session),
        state="awaiting_approval",
    )
    # A draft is not an order.
    place_order(db_session, offer=per_offer, state="draft")
    db_session.commit()

    page = soup(client.get("/observatoire"))
    assert page.select_one("[data-testid=observatory-empty]") is None
    assert figure(page, "provisioned") == "4"
    assert figure(page, "orders") == "5"
    assert figure(page, "subsidised-share") == "40,0 %"
    assert figure(page, "median-time") == "5 heures"  # median of 2, 4, 6 and 30 hours

    by_region = table_of(page, "par-region")
    assert by_region["Île-de-France"] == "2"
    assert by_region["Auvergne-Rhône-Alpes"] == "1"
    assert by_region["Corse"] == "1"
    assert by_region["Bretagne"] == "0"
    assert table_of(page, "par-type") == {
        "Personnelle (PER)": "1",
        "Organisationnelle (ORG)": "3",
        "Applicative (APP)": "0",
        "Cabinet (CAB)": "0",
    }
    by_kind = table_of(page, "par-type-operateur")
    assert by_kind["Opérateur régional"] == "3"
    assert by_kind["Opérateur commercial"] == "1"

    # Each chart is an image named by its title and description, with one bar per figure.
    chart = page.select_one('[data-chart="par-type"] svg')
    assert chart["role"] == "img"
    title_id, desc_id = chart["aria-labelledby"].split()
    assert chart.find("title", id=title_id).get_text() == "Boîtes aux lettres ouvertes par type"
    assert "Organisationnelle (ORG) : 3." in chart.find("desc", id=desc_id).get_text()
    widths = [float(rect["width"]) for rect in chart.select("rect")]
    assert widths[0] > 0 and abs(widths[1] - 3 * widths[0]) < 0.1  # ORG is three times PER

    rows = open_data(client)
    assert ["boites_ouvertes_par_region", "11", "2"] in rows
    assert ["boites_ouvertes_par_type", "ORG", "3"] in rows
    assert ["commandes_subventionnees", "total", "2"] in rows
    assert ["delai_median_activation_secondes", "total", str(5 * 3600)] in rows
    # Nothing that points at a person: no address, no name, no identifier.
    text = client.get("/observatoire/donnees.csv").get_data(as_text=True)
    assert "mssante.fr" not in text and doctor.last_name not in text and doctor.rpps not in text


def test_observatory_reads_in_english(client):
    page = soup(client.get("/observatoire?lang=en"))
    assert page.h1.get_text(strip=True) == "Secure health messaging observatory"
    assert figure(page, "median-time") == "not measured"


def test_bar_lengths_follow_a_round_scale():
    assert nice_maximum(0) == 1
    assert nice_maximum(3) == 5
    assert nice_maximum(21) == 25
    assert nice_maximum(101) == 200


def test_chart_labels_are_escaped(client, db_session, app):
    with app.test_request_context():
        chart = bar_chart(
            id="x",
            title="<b>t</b>",
            description="d",
            column_label="c",
            value_label="v",
            rows=[("<script>alert(1)</script>", 1, "1")],
        )
        template = app.jinja_env.from_string(
            '{% from "observatory/_charts.html" import bar_chart %}{{ bar_chart(chart) }}'
        )
        html = template.render(chart=chart)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_open_data_neutralises_formulas():
    assert neutralise("=SUM(A1)") == "'=SUM(A1)"
    assert neutralise("-1") == "'-1"
    assert neutralise("Corse") == "Corse"
