"""One offer's page: grouped attributes, price breakdown, regional help, eligibility, operator."""

from __future__ import annotations

from sqlmodel import select

from portal.app import create_app
from portal.catalogue.models import ComparisonAttribute, OfferStatus
from tests.catalogue.pages import soup
from tests.factories import make_offer, make_operator


def _facts(page, testid: str) -> dict[str, str]:
    """Label → value, with Babel's non-breaking spaces read as spaces."""
    box = page.select_one(f"[data-testid={testid}]")
    return {
        div.select_one("dt").get_text(" ", strip=True): " ".join(
            div.select_one("dd").get_text(" ", strip=True).split()
        )
        for div in box.select("div")
    }


def test_every_attribute_appears_grouped_in_grid_order(client, db_session):
    page = soup(client.get("/offres/aura-messagerie-regionale"))
    groups = [h.get_text(strip=True) for h in page.select(".catalogue-grid__group h3")]
    assert groups == [
        "Prix",
        "Types de boîtes et public",
        "Accès et mobilité",
        "Intégration",
        "Limites",
        "Assistance",
        "Conformité",
    ]
    rows = page.select(".catalogue-grid tr[data-attribute]")
    keys = {c.key for c in db_session.exec(select(ComparisonAttribute)).all()}
    assert {row["data-attribute"] for row in rows} == keys
    by_key = {row["data-attribute"]: row.select_one("td").get_text(strip=True) for row in rows}
    assert by_key["mobile_app"] == "Oui"
    assert by_key["api_access"] == "Non"
    assert by_key["attachment_max_mb"] == "20 Mo"
    assert by_key["support_channels"] == "Téléphone, E-mail"
    assert by_key["data_location"] == "France, hébergeur HDS en région"
    assert by_key["retention_days"] == "Pas de suppression automatique"


def test_unknown_values_say_not_stated_and_null_means_is_used(client):
    page = soup(client.get("/offres/mailiz"))
    cells = {
        row["data-attribute"]: row.select_one("td").get_text(strip=True)
        for row in page.select(".catalogue-grid tr[data-attribute]")
    }
    assert cells["psc_login"] == "Non renseigné"
    assert cells["retention_days"] == "Non renseigné"  # absent, not null
    assert cells["professions"].startswith("Médecin, Pharmacien")


def test_price_breakdown_excluding_and_including_vat_setup_fee_and_commitment(client):
    page = soup(client.get("/offres/horizon-cabinet"))
    facts = _facts(page, "price-breakdown")
    assert facts["Prix par boîte, hors taxes (HT)"] == "8,90 € par mois"
    assert facts["TVA"] == "20 %"
    assert facts["Prix par boîte, toutes taxes comprises (TTC)"] == "10,68 € par mois"
    assert facts["Frais de mise en service"] == "49,00 € HT, soit 58,80 € TTC, une seule fois"
    assert facts["Durée d’engagement"] == "12 mois"


def test_a_yearly_price_is_also_given_per_month(client):
    facts = _facts(soup(client.get("/offres/horizon-annuel")), "price-breakdown")
    assert facts["Prix par boîte, hors taxes (HT)"].endswith("par an")
    assert "Soit, ramené au mois (HT)" in facts


def test_the_subsidy_of_the_chosen_region_with_what_is_left_to_pay(client):
    page = soup(client.get("/offres/bfc-messagerie-comtoise?region=27"))
    box = page.select_one("[data-testid=subsidies]").get_text(" ", strip=True)
    assert "Programme régional MSSanté Bourgogne-Franche-Comté (démo)" in box
    assert "Prise en charge intégrale par la région" in box
    assert "Reste à payer : Gratuit" in box
    assert "Pendant 24 mois" in box
    elsewhere = soup(client.get("/offres/bfc-messagerie-comtoise?region=84"))
    assert "Aucune aide de la région Auvergne-Rhône-Alpes" in elsewhere.select_one(
        "[data-testid=subsidies]"
    ).get_text(" ", strip=True)
    unchosen = soup(client.get("/offres/bfc-messagerie-comtoise"))
    assert "Bourgogne-Franche-Comté" in unchosen.select_one("[data-testid=subsidies]").get_text()


def test_a_department_chooses_its_region_and_nonsense_is_ignored(client):
    page = soup(client.get("/offres/bfc-messagerie-comtoise?departement=21"))
    assert "Reste à payer" in page.select_one("[data-testid=subsidies]").get_text()
    wrong = client.get("/offres/bfc-messagerie-comtoise?region=<b>x</b>")
    assert wrong.status_code == 200
    assert "<b>x</b>" not in wrong.get_data(as_text=True)
    assert "Cette région n’existe pas" in soup(wrong).get_text()


def test_eligibility_in_plain_words_and_operator_facts(client):
    page = soup(client.get("/offres/aura-messagerie-regionale"))
    eligibility = [
        li.get_text(" ", strip=True) for li in page.select("[data-testid=eligibility] li")
    ]
    assert eligibility[0] == "Boîtes proposées : Personnelle (PER), Organisationnelle (ORG)."
    assert "Tout professionnel de santé." in eligibility
    assert "Territoire : Auvergne-Rhône-Alpes." in eligibility
    assert "Au plus 1 boîte personnelle par professionnel." in eligibility
    facts = _facts(page, "operator-facts")
    assert facts["Contrat d’opérateur MSSanté signé avec l’ANS"] == "Oui"
    assert facts["Hébergement certifié pour les données de santé (HDS)"] == "Oui"
    assert facts["Horaires de l’assistance"] == "Du lundi au vendredi, 8 h 30 – 18 h"


def test_without_the_subscription_flow_the_page_says_it_is_coming(settings, monkeypatch):
    from portal import app as app_module

    domains = tuple(name for name in app_module.DOMAINS if name != "portal.subscriptions")
    monkeypatch.setattr(app_module, "DOMAINS", domains)
    app = create_app(settings)
    box = soup(app.test_client().get("/offres/mailiz")).select_one("[data-testid=subscribe]")
    assert "La souscription en ligne arrive bientôt" in box.get_text()
    assert box.select_one("a") is None


def test_with_the_subscription_flow_souscrire_links_to_it(client):
    box = soup(client.get("/offres/mailiz")).select_one("[data-testid=subscribe]")
    assert box.select_one("a")["href"] == "/souscrire/mailiz"
    assert box.select_one("a").get_text(" ", strip=True).startswith("Souscrire")


def test_operator_text_is_escaped_and_only_web_addresses_are_links(client, db_session):
    operator = make_operator(
        db_session,
        website="javascript:alert(1)",
        description={"fr": "<img src=x onerror=alert(1)>"},
    )
    offer = make_offer(db_session, operator=operator, slug="offre-piegee", name="<b>Piège</b>")
    db_session.commit()
    html = client.get(f"/offres/{offer.slug}").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>Piège</b>" not in html and "&lt;b&gt;Piège&lt;/b&gt;" in html
    assert "javascript:alert" not in html


def test_unknown_and_unpublished_offers_are_not_found(client, db_session):
    assert client.get("/offres/n-existe-pas").status_code == 404
    draft = make_offer(db_session, slug="brouillon", status=OfferStatus.DRAFT)
    db_session.commit()
    assert client.get(f"/offres/{draft.slug}").status_code == 404


def test_the_offer_page_in_english(client):
    page = soup(client.get("/offres/horizon-cabinet?lang=en"))
    facts = _facts(page, "price-breakdown")
    assert facts["Price per mailbox, excluding VAT"] == "€8.90 per month"
    assert facts["Commitment period"] == "12 months"
    groups = [h.get_text(strip=True) for h in page.select(".catalogue-grid__group h3")]
    assert groups[0] == "Price" and groups[2] == "Access and mobility"
    rows = {
        row["data-attribute"]: row.select_one("td").get_text(strip=True)
        for row in page.select(".catalogue-grid tr[data-attribute]")
    }
    assert rows["mobile_app"] == "Yes"
    assert rows["attachment_max_mb"].endswith("MB")
