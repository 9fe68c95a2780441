"""/api/v1/offers and /api/v1/offers/<slug>, and their OpenAPI description."""

from __future__ import annotations

from tests.catalogue.pages import all_result_slugs, published


def test_the_list_filters_like_the_page_and_pages_its_results(client, db_session):
    body = client.get("/api/v1/offers?type=ORG&region=84&per_page=5").get_json()
    expected = all_result_slugs(client, "type=ORG&region=84")
    assert body["meta"]["total"] == len(expected)
    assert body["meta"]["per_page"] == 5
    assert body["meta"]["pages"] == -(-len(expected) // 5)
    assert [offer["slug"] for offer in body["data"]] == expected[:5]
    assert body["meta"]["filters"] == {"region": ["84"], "type": ["ORG"]}
    second = client.get(body["links"]["next"]).get_json()
    assert [offer["slug"] for offer in second["data"]] == expected[5:10]
    assert body["links"]["prev"] is None


def test_an_offer_in_the_list_carries_its_terms_audience_and_subsidies(client):
    body = client.get("/api/v1/offers?region=27&per_page=100").get_json()
    offer = next(o for o in body["data"] if o["slug"] == "bfc-messagerie-comtoise")
    assert offer["price"] == {
        "amount_cents": 400,
        "currency": "EUR",
        "billing_period": "month",
        "monthly_amount_cents": 400,
        "setup_fee_cents": 0,
        "commitment_months": 0,
        "vat_rate_bp": 2000,
        "free": False,
    }
    assert offer["operator"]["slug"] == "caducee-mail"
    assert offer["coverage"] == {"national": False, "regions": ["27"], "departments": []}
    assert offer["subsidies"][0]["rule"] == "free"
    assert offer["subsidies"][0]["region"] == "27"
    assert offer["features"]["retention_days"] is None
    assert offer["demo"] is True


def test_values_it_cannot_use_are_listed_and_bad_paging_is_a_clear_400(client, db_session):
    body = client.get("/api/v1/offers?type=XYZ&prix_max=abc").get_json()
    assert body["meta"]["total"] == len(published(db_session))
    assert {"parameter": "type", "value": "XYZ", "reason": "unknown_value"} in body["meta"][
        "ignored"
    ]
    assert {"parameter": "prix_max", "value": "abc", "reason": "not_a_number"} in body["meta"][
        "ignored"
    ]
    for query in ("per_page=0", "per_page=101", "page=abc", "page=-1"):
        response = client.get(f"/api/v1/offers?{query}")
        assert response.status_code == 400
        assert "must be a whole number" in response.get_json()["error"]["detail"]


def test_one_offer_with_its_grid_and_an_unknown_one(client, db_session):
    body = client.get("/api/v1/offers/mailiz").get_json()["data"]
    assert body["name"] == "Mailiz"
    assert body["description"]["en"].startswith("Mailiz is the national MSSanté offer")
    keys = [a["key"] for a in body["attributes"]]
    assert keys[0] == "monthly_price" and "retention_days" in keys
    retention = next(a for a in body["attributes"] if a["key"] == "retention_days")
    assert retention["stated"] is False
    assert retention["null_means"]["fr"] == "Pas de suppression automatique"
    missing = client.get("/api/v1/offers/inconnue")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["status"] == 404


def test_openapi_describes_both_routes_and_every_catalogue_filter(client):
    document = client.get("/api/v1/openapi.json").get_json()
    listing = document["paths"]["/offers"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {
        "region",
        "departement",
        "profession",
        "structure",
        "type",
        "gratuit",
        "prix_max",
        "fonction",
        "logiciel",
        "pj_min",
        "suppression",
        "operateur",
        "tri",
        "page",
        "per_page",
    } == names
    assert "/offers/{slug}" in document["paths"]
    assert {"Offer", "OfferDetail", "OfferList", "Subsidy"} <= set(
        document["components"]["schemas"]
    )
