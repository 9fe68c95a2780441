"""/comparer: 2 to 4 offers side by side, differences, permalink, CSV, bad input."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from portal.catalogue.models import ComparisonAttribute
from tests.catalogue.pages import notices, soup
from tests.factories import make_offer

THREE = "mailiz,horizon-cabinet,aura-messagerie-regionale"


def _rows(page) -> dict[str, list[str]]:
    return {
        row["data-attribute"]: [
            " ".join(td.get_text(" ", strip=True).split()) for td in row.select("td")
        ]
        for row in page.select(".catalogue-grid tr[data-attribute]")
    }


def test_three_offers_side_by_side_with_every_attribute(client, db_session):
    page = soup(client.get(f"/comparer?offres={THREE}"))
    headers = [th.get_text(strip=True) for th in page.select(".catalogue-grid thead th")][:4]
    assert headers == [
        "Caractéristique",
        "Mailiz",
        "Horizon Cabinet (démo)",
        "Messagerie régionale AuRA (démo)",
    ]
    rows = _rows(page)
    assert set(rows) == {c.key for c in db_session.exec(select(ComparisonAttribute)).all()}
    assert rows["monthly_price"] == ["Gratuit", "8,90 € HT par mois", "Gratuit"]
    assert rows["mailbox_types"] == [
        "Personnelle (PER)",
        "Personnelle (PER), Organisationnelle (ORG)",
        "Personnelle (PER), Organisationnelle (ORG)",
    ]
    assert rows["webmail"] == ["Oui", "Oui", "Oui"]


def test_differences_are_marked_and_counted(client):
    page = soup(client.get(f"/comparer?offres={THREE}"))
    differing = {row["data-attribute"] for row in page.select("tr[data-differs=true]")}
    rows = _rows(page)
    assert differing == {key for key, cells in rows.items() if len(set(cells)) > 1}
    assert "monthly_price" in differing and "webmail" not in differing
    for row in page.select("tr[data-differs=true]"):
        assert row.select_one(".catalogue-grid__marker").get_text(strip=True) == "Différent"
    count = page.select_one("[data-testid=difference-count]").get_text()
    assert count.startswith(f"{len(differing)} caractéristiques diffèrent")


def test_only_differences_leaves_out_the_equal_rows(client):
    page = soup(client.get(f"/comparer?offres={THREE}&differences=1"))
    rows = page.select("tr[data-attribute]")
    assert rows and all(row["data-differs"] == "true" for row in rows)
    assert page.select_one("#differences").has_attr("checked")
    all_rows = soup(client.get(f"/comparer?offres={THREE}"))
    toggle = all_rows.select_one("[data-compare-toggle]")
    assert toggle["method"] == "get"
    assert toggle.select_one("input[name=offres]")["value"] == THREE


def test_the_catalogue_checkboxes_lead_to_the_short_permalink(client):
    response = client.get(
        "/comparer?offres=mailiz&offres=horizon-cabinet&offres=aura-messagerie-regionale"
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/comparer?offres={THREE}"
    page = soup(client.get(response.headers["Location"]))
    assert page.select_one("[data-testid=permalink]")["href"].endswith(f"/comparer?offres={THREE}")


def test_unknown_duplicate_and_fifth_offers_are_left_out_with_a_message(client):
    page = soup(
        client.get(
            "/comparer?offres=mailiz,inconnue,mailiz,horizon-cabinet,horizon-annuel,"
            "azur-premium-annuel,caducee-pro"
        )
    )
    messages = notices(page)
    assert "Offre inconnue ignorée : inconnue." in messages
    assert "Offre demandée plusieurs fois, comparée une seule fois : mailiz." in messages
    assert any(m.startswith("On compare au plus 4 offres") and "Caducée Pro" in m for m in messages)
    assert len(page.select(".catalogue-grid")[0].select("thead th")) == 5


def test_fewer_than_two_offers_asks_for_more_and_offers_a_picker(client):
    page = soup(client.get("/comparer?offres=mailiz"))
    assert (
        "Choisissez au moins deux offres"
        in page.select_one("[data-testid=compare-empty]").get_text()
    )
    picker = page.select_one("form.catalogue-compare-add")
    assert picker.select_one("input[type=hidden][name=offres]")["value"] == "mailiz"
    options = [o["value"] for o in picker.select("select option") if o["value"]]
    assert "mailiz" not in options and "horizon-cabinet" in options
    assert soup(client.get("/comparer")).select_one("[data-testid=compare-empty]")


def test_markup_in_the_parameters_is_never_reflected(client):
    response = client.get('/comparer?offres=<script>alert("x")</script>,mailiz&format=<b>')
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "« <b> »" not in html
    assert "« &lt;b&gt; »" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_csv_has_one_column_per_offer_and_one_line_per_attribute(client, db_session):
    response = client.get(f"/comparer?offres={THREE}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    assert rows[0] == [
        "Rubrique",
        "Caractéristique",
        "Mailiz",
        "Horizon Cabinet (démo)",
        "Messagerie régionale AuRA (démo)",
    ]
    assert rows[1][1:] == [
        "Opérateur",
        "Mailiz",
        "Horizon Santé Messagerie (démo)",
        "AuRA Messagerie Santé (démo)",
    ]
    attributes = db_session.exec(select(ComparisonAttribute)).all()
    assert len(rows) == 2 + len(attributes)
    by_label = {row[1]: row for row in rows[2:]}
    assert by_label["Application mobile"] == [
        "Accès et mobilité",
        "Application mobile",
        "Oui",
        "Oui",
        "Oui",
    ]


def test_csv_cells_never_start_a_formula(client, db_session):
    make_offer(db_session, slug="formule-a", name='=HYPERLINK("http://x")')
    make_offer(db_session, slug="formule-b", name="@SUM(1)")
    db_session.commit()
    text = client.get("/comparer?offres=formule-a,formule-b&format=csv").get_data(as_text=True)
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert header[2:] == ['\'=HYPERLINK("http://x")', "'@SUM(1)"]


def test_the_comparison_in_english(client):
    page = soup(client.get(f"/comparer?offres={THREE}&lang=en"))
    assert page.select_one("h1").get_text(strip=True) == "Compare offers"
    assert (
        "features differ between these offers"
        in page.select_one("[data-testid=difference-count]").get_text()
    )
    rows = _rows(page)
    assert rows["monthly_price"] == ["Free", "€8.90 excl. VAT per month", "Free"]


def test_asking_the_csv_of_a_single_offer_says_two_are_needed(client):
    response = client.get("/comparer?offres=mailiz&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/html"
    text = soup(response).get_text(" ")
    assert "Choisissez au moins deux offres pour télécharger la comparaison en CSV" in text
    assert "n’existe pas" not in text
