"""The catalogue page /offres: filters, facet counts, sort, pagination, bad input, languages."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlmodel import select

from portal.catalogue.models import ComparisonAttribute, Department, Offer
from portal.db import utcnow
from tests.catalogue.pages import (
    all_result_slugs,
    card_slugs,
    facet_count,
    monthly_cents,
    notices,
    published,
    result_total,
    soup,
)
from tests.factories import make_offer, make_operator


def test_first_page_shows_twenty_cards_and_the_number_of_published_offers(client, db_session):
    page = soup(client.get("/offres"))
    assert len(card_slugs(page)) == 20
    assert result_total(page) == len(published(db_session))
    assert page.select_one("h1").get_text(strip=True).startswith("Les offres")


def test_a_card_says_who_it_is_for_its_price_types_operator_and_three_key_features(client):
    page = soup(client.get("/offres?profession=50&tri=nom"))
    mailiz = page.select_one('article[data-offer="mailiz"]')
    text = mailiz.get_text(" ", strip=True)
    assert "Opérateur : Mailiz" in text
    assert "Gratuit" in mailiz.select_one("[data-testid=price]").get_text()
    assert [b.get_text(strip=True) for b in mailiz.select(".fr-badge--info")] == ["PER"]
    assert "Professionnels : Médecin, Pharmacien" in text
    assert "Partout en France" in text
    features = [li.get_text(strip=True) for li in mailiz.select(".catalogue-card__features li")]
    # Mailiz states only webmail, mobile app and practice-software access (the rest is unknown).
    assert features == ["Application mobile", "Accès depuis le logiciel métier", "Webmail"]


def test_mailbox_type_filter_keeps_exactly_the_offers_of_that_type(client, db_session):
    expected = {o.slug for o, _ in published(db_session) if "ORG" in o.mailbox_types}
    assert set(all_result_slugs(client, "type=ORG")) == expected
    both = {o.slug for o, _ in published(db_session) if {"ORG", "APP"} & set(o.mailbox_types)}
    assert set(all_result_slugs(client, "type=ORG&type=APP")) == both


def test_region_filter_keeps_national_offers_and_those_covering_the_region(client, db_session):
    in_region = {d.code for d in db_session.exec(select(Department)).all() if d.region_code == "84"}
    expected = {
        o.slug
        for o, _ in published(db_session)
        if o.coverage_national
        or "84" in o.coverage_regions
        or set(o.coverage_departments) & in_region
    }
    found = set(all_result_slugs(client, "region=84"))
    assert found == expected
    assert "horizon-medecins-rhone" in found  # covers the Rhône only
    assert "caducee-pharmaciens-corse" not in found


def test_department_filter_and_a_region_that_does_not_contain_it(client, db_session):
    expected = {
        o.slug
        for o, _ in published(db_session)
        if o.coverage_national or "69" in o.coverage_departments or "84" in o.coverage_regions
    }
    assert set(all_result_slugs(client, "departement=69")) == expected
    page = soup(client.get("/offres?departement=69&region=11"))
    assert result_total(page) == len(expected)
    assert any("ne contient pas le département" in n for n in notices(page))


def test_profession_keeps_personal_offers_open_to_it_and_structure_keeps_shared_ones(
    client, db_session
):
    nurses = {
        o.slug
        for o, _ in published(db_session)
        if "PER" in o.mailbox_types and (not o.professions or "60" in o.professions)
    }
    assert set(all_result_slugs(client, "profession=60")) == nurses
    pharmacies = {
        o.slug
        for o, _ in published(db_session)
        if {"ORG", "APP"} & set(o.mailbox_types)
        and (not o.structure_types or "pharmacie" in o.structure_types)
    }
    assert set(all_result_slugs(client, "structure=pharmacie")) == pharmacies


def test_free_only_and_maximum_price_with_a_decimal_comma(client, db_session):
    free = {
        o.slug for o, r in published(db_session) if r.price_cents == 0 and r.setup_fee_cents == 0
    }
    assert set(all_result_slugs(client, "gratuit=1")) == free
    cheap = {o.slug for o, r in published(db_session) if monthly_cents(r) <= 450}
    assert set(all_result_slugs(client, urlencode({"prix_max": "4,50"}))) == cheap
    assert set(all_result_slugs(client, "prix_max=4.5")) == cheap


def test_a_price_that_is_not_a_number_is_shown_back_with_a_sentence_and_ignored(client, db_session):
    response = client.get("/offres?" + urlencode({"prix_max": "cinq euros"}))
    assert response.status_code == 200
    page = soup(response)
    field = page.select_one("#filtre-prix_max")
    assert field["value"] == "cinq euros"
    assert field["aria-invalid"] == "true"
    assert "n’est pas un prix" in page.select_one("#filtre-prix_max-erreur").get_text()
    assert result_total(page) == len(published(db_session))


def test_features_must_all_be_present(client, db_session):
    expected = {
        o.slug
        for o, r in published(db_session)
        if r.features.get("mobile_app") is True and r.features.get("psc_login") is True
    }
    assert set(all_result_slugs(client, "fonction=mobile_app&fonction=psc_login")) == expected


def test_attachment_size_software_and_deletion_policy(client, db_session):
    big = {
        o.slug
        for o, r in published(db_session)
        if isinstance(r.features.get("attachment_max_mb"), int)
        and r.features["attachment_max_mb"] >= 30
    }
    assert set(all_result_slugs(client, "pj_min=30")) == big
    podogest = {
        o.slug
        for o, r in published(db_session)
        if "PodoGest Démo" in (r.features.get("lps_integrations") or [])
    }
    assert set(all_result_slugs(client, urlencode({"logiciel": "PodoGest Démo"}))) == podogest
    # An explicit null says "no automatic deletion"; Mailiz does not say, so it is not kept.
    kept = set(all_result_slugs(client, "suppression=aucune"))
    assert "mailiz" not in kept
    assert kept == {
        o.slug
        for o, r in published(db_session)
        if "retention_days" in r.features and r.features["retention_days"] is None
    }
    deleting = set(all_result_slugs(client, "suppression=automatique"))
    assert "horizon-podologues-nord" in deleting and not deleting & kept


def test_operator_kind_filter(client, db_session):
    regional = set(all_result_slugs(client, "operateur=regional"))
    assert "aura-messagerie-regionale" in regional
    assert "mailiz" not in regional


def test_facet_counts_are_what_choosing_the_value_gives(client):
    query = "region=84&fonction=mobile_app"
    page = soup(client.get(f"/offres?{query}"))
    for param, value in [
        ("type", "PER"),
        ("type", "ORG"),
        ("type", "APP"),
        ("operateur", "commercial"),
        ("fonction", "psc_login"),
        ("gratuit", "1"),
        ("profession", "10"),
        ("structure", "msp"),
        ("departement", "69"),
        ("pj_min", "30"),
    ]:
        shown = facet_count(page, param, value)
        chosen = soup(client.get(f"/offres?{query}&{param}={value}"))
        assert result_total(chosen) == shown, (param, value)


def test_sort_by_price_then_by_name(client, db_session):
    prices = {o.slug: monthly_cents(r) for o, r in published(db_session)}
    by_price = all_result_slugs(client, "tri=prix")
    assert [prices[s] for s in by_price] == sorted(prices[s] for s in by_price)
    names = {o.slug: o.name for o, _ in published(db_session)}
    by_name = all_result_slugs(client, "tri=nom")
    assert by_name[0] == "aura-connecteur-applicatif"
    assert len(by_name) == len(names)


def test_relevance_puts_offers_subsidised_in_the_chosen_region_first(client):
    page = soup(client.get("/offres?region=27"))
    first = page.select_one("[data-testid=offer-list] article")
    assert first["data-offer"] == "bfc-messagerie-comtoise"
    assert "Prise en charge intégrale par la région en Bourgogne-Franche-Comté" in first.get_text(
        " ", strip=True
    )


def test_pagination_links_keep_the_filters_and_the_last_page_is_short(client, db_session):
    page = soup(client.get("/offres?tri=nom"))
    next_link = page.select_one("a.fr-pagination__link--next[href]")["href"]
    assert "tri=nom" in next_link and "page=2" in next_link
    total = len(published(db_session))
    last = soup(client.get(f"/offres?tri=nom&page={(total + 19) // 20}"))
    assert len(card_slugs(last)) == total - 20 * ((total - 1) // 20)


def test_a_page_beyond_the_end_or_not_a_number_is_explained(client):
    beyond = soup(client.get("/offres?page=99"))
    assert any("La page 99 n’existe pas" in n for n in notices(beyond))
    assert card_slugs(beyond)
    wrong = soup(client.get("/offres?page=abc"))
    assert any("« abc » n’est pas un nombre valable pour « Page »" in n for n in notices(wrong))


def test_unknown_values_and_markup_are_reported_escaped_never_run(client, db_session):
    response = client.get(
        "/offres?"
        + urlencode(
            [
                ("region", "<script>alert(1)</script>"),
                ("type", "XYZ"),
                ("type", "PER"),
                ("type", "PER"),
            ]
        )
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    page = soup(response)
    messages = notices(page)
    assert (
        "« <script>alert(1)</script> » n’est pas une valeur possible pour « Région »." in messages
    )
    assert any("« XYZ »" in m for m in messages)
    assert any("demandé deux fois" in m for m in messages)
    expected = {o.slug for o, _ in published(db_session) if "PER" in o.mailbox_types}
    assert result_total(page) == len(expected)


def test_empty_results_suggest_the_filter_to_remove_with_its_outcome(client):
    page = soup(client.get("/offres?departement=2A&type=APP&gratuit=1"))
    assert result_total(page) == 0
    empty = page.select_one("[data-testid=empty-state]")
    assert "Aucune offre ne correspond" in empty.get_text()
    suggestions = empty.select("li")
    assert suggestions
    for item in suggestions:
        link = item.select_one("a")["href"]
        promised = int(item.get_text().rsplit("—", 1)[1].split()[0])
        assert result_total(soup(client.get(link))) == promised


def test_active_filters_can_be_removed_one_by_one(client):
    page = soup(client.get("/offres?type=ORG&gratuit=1"))
    tags = page.select("[data-testid=active-filters] a")
    labels = [t.get_text(" ", strip=True) for t in tags]
    assert labels == [
        "Types de boîtes aux lettres : Organisationnelle (ORG)",
        "Gratuit uniquement (sans abonnement ni frais de mise en service)",
    ]
    assert tags[0]["href"] == "/offres?gratuit=1"


def test_the_catalogue_in_english(client):
    page = soup(client.get("/offres?lang=en&type=ORG&tri=prix"))
    assert page.select_one("html")["lang"] == "en"
    assert "matching offers" in page.select_one("[data-testid=result-count]").get_text()
    assert page.select_one("label[for=filtre-region]").get_text(strip=True) == "Region"
    prices = [p.get_text(" ", strip=True) for p in page.select("[data-testid=price]")]
    assert any(p.startswith("€") and "excl. VAT per month" in p for p in prices)
    assert "Organisational (ORG)" in page.select_one("[data-testid=active-filters]").get_text()


def test_a_new_filterable_attribute_in_the_data_becomes_a_filter(client, db_session):
    db_session.add(
        ComparisonAttribute(
            key="encrypted_archive",
            group="compliance",
            position=99,
            type="boolean",
            label={"fr": "Archives chiffrées", "en": "Encrypted archives"},
            help={"fr": "Les archives sont chiffrées.", "en": "Archives are encrypted."},
            filterable=True,
        )
    )
    make_offer(
        db_session,
        name="Offre chiffrée",
        slug="offre-chiffree",
        features={"encrypted_archive": True},
        operator=make_operator(db_session, kind="commercial"),
    )
    db_session.flush()
    page = soup(client.get("/offres?fonction=encrypted_archive"))
    labels = [label.get_text(" ", strip=True) for label in page.select("label")]
    assert "Archives chiffrées (1)" in labels
    assert card_slugs(page) == ["offre-chiffree"]


def test_a_withdrawn_offer_leaves_the_catalogue_at_once(client, db_session):
    assert "mailiz" in all_result_slugs(client, "profession=10")
    mailiz = db_session.exec(select(Offer).where(Offer.slug == "mailiz")).one()
    mailiz.status = "withdrawn"
    mailiz.updated_at = utcnow()
    db_session.commit()  # into the test's transaction, so every later request sees it
    assert client.get("/offres/mailiz").status_code == 404
    assert "mailiz" not in all_result_slugs(client, "profession=10")


def test_the_home_page_finder_leads_into_the_filtered_catalogue(client):
    home = soup(client.get("/"))
    finder = home.select_one("[data-testid=finder]")
    assert finder["action"] == "/offres" and finder["method"] == "get"
    assert {s["name"] for s in finder.select("select")} == {"region", "profession", "structure"}
    regions = {o["value"]: o.get_text() for o in finder.select("select[name=region] option")}
    assert regions["84"] == "Auvergne-Rhône-Alpes" and len(regions) == 19
    chosen = soup(client.get("/offres?region=84&profession=10&structure="))
    assert notices(chosen) == []
    assert [
        t.get_text(" ", strip=True) for t in chosen.select("[data-testid=active-filters] a")
    ] == [
        "Région : Auvergne-Rhône-Alpes",
        "Vous êtes (boîte personnelle) : Médecin",
    ]
