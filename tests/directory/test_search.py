"""Directory search on the page, in the API and in the service: names with or without accents,
in any order, prefixes, one typo, identifiers, address fragments, filters; liste rouge never."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from portal.directory.search import SearchFilters, search_directory, within_one_edit
from tests.directory.helpers import make_entry


@pytest.fixture
def directory(db_session):
    make_entry(
        db_session,
        address="helene.loeuvre@medecin.mssante.fr",
        idnps="810000000011",
        pp_id_type="8",
        pp_id="10000000011",
        first_name="Hélène",
        last_name="Lœuvre",
        profession_code="10",
        profession_label="Médecin",
        savoir_faire_label="Cardiologie",
        postal_code="69003",
        address_l6="69003 LYON",
    )
    make_entry(
        db_session,
        address="marie.dupont@medecin.mssante.fr",
        idnps="810000000001",
        pp_id_type="8",
        pp_id="10000000001",
        first_name="Marie",
        last_name="Dupont",
        profession_code="60",
        profession_label="Infirmier",
        postal_code="75011",
        address_l6="75011 PARIS",
        structure_id_type="1",
        structure_id="750000099",
        structure_name="Centre de santé Voltaire",
    )
    make_entry(
        db_session,
        address="m.dupont@autre.mssante.fr",
        idnps="810000000001",
        first_name="Marie",
        last_name="Dupont",
        profession_code="60",
        postal_code="75011",
        preferred=True,
    )
    make_entry(
        db_session,
        address="cachee.dupont@medecin.mssante.fr",
        idnps="810000000001",
        first_name="Marie",
        last_name="Dupont",
        liste_rouge=True,
    )
    make_entry(
        db_session,
        address="secret@medecin.mssante.fr",
        idnps="810000000077",
        first_name="Secret",
        last_name="Rouge",
        liste_rouge=True,
    )
    make_entry(
        db_session,
        address="accueil.voltaire@cds.mssante.fr",
        mailbox_type="ORG",
        structure_id_type="1",
        structure_id="750000099",
        structure_name="Centre de santé Voltaire",
        service="Accueil",
        postal_code="75011",
    )
    make_entry(
        db_session,
        address="labo@bio.mssante.fr",
        mailbox_type="APP",
        structure_id_type="3",
        structure_id="73282932000074",
        structure_name="Laboratoire Pasteur",
        postal_code="13001",
    )
    db_session.commit()


def names(db_session, **filters):
    page = search_directory(db_session, SearchFilters(**filters))
    return [holder.name for holder in page.results]


@pytest.mark.parametrize(
    "q",
    ["Dupont Marie", "marie dupont", "MARIE DUPONT", "dup mar", "Dupnot", "Dupomt Marie", "dupon"],
)
def test_names_in_any_order_case_prefix_and_one_typo(db_session, directory, q):
    assert names(db_session, q=q) == ["Marie Dupont"]


@pytest.mark.parametrize("q", ["helene loeuvre", "Hélène Lœuvre", "HELENE", "Lœuv", "loevre"])
def test_accents_and_ligatures_are_ignored(db_session, directory, q):
    assert names(db_session, q=q) == ["Hélène Lœuvre"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("10000000001", ["Marie Dupont"]),  # RPPS
        ("810000000001", ["Marie Dupont"]),  # IDNPS
        ("750000099", ["Marie Dupont", "Centre de santé Voltaire"]),  # FINESS: person and structure
        ("73282932000074", ["Laboratoire Pasteur"]),  # SIRET
        ("m.dupont@autre", ["Marie Dupont"]),  # address fragment
        ("bio.mssante.fr", ["Laboratoire Pasteur"]),
    ],
)
def test_identifiers_and_address_fragments(db_session, directory, q, expected):
    assert sorted(names(db_session, q=q)) == sorted(expected)


def test_filters_narrow_results(db_session, directory):
    assert names(db_session, q="dupont", profession="10") == []
    assert names(db_session, q="dupont", profession="60") == ["Marie Dupont"]
    assert sorted(names(db_session, place="75")) == ["Centre de santé Voltaire", "Marie Dupont"]
    assert names(db_session, place="69003") == ["Hélène Lœuvre"]
    assert names(db_session, q="voltaire", mailbox_type="ORG") == ["Centre de santé Voltaire"]


def test_liste_rouge_is_never_found(db_session, directory):
    assert names(db_session, q="secret rouge") == []
    assert names(db_session, q="cachee.dupont@medecin.mssante.fr") == []
    page = search_directory(db_session, SearchFilters(q="marie dupont"))
    addresses = [m.address for m in page.results[0].mailboxes]
    assert "cachee.dupont@medecin.mssante.fr" not in addresses


def test_a_professional_shows_all_addresses_preferred_first(db_session, directory):
    (marie,) = search_directory(db_session, SearchFilters(q="marie dupont")).results
    assert [(m.address, m.preferred) for m in marie.mailboxes] == [
        ("m.dupont@autre.mssante.fr", True),
        ("marie.dupont@medecin.mssante.fr", False),
    ]
    assert marie.mailboxes[0].operator_domain == "autre.mssante.fr"


def test_one_edit_distance():
    assert within_one_edit("dupont", "dupond")
    assert within_one_edit("dupnot", "dupont")  # transposition
    assert within_one_edit("dupon", "dupont") and within_one_edit("duppont", "dupont")
    assert not within_one_edit("dumont", "durand")
    assert not within_one_edit("dupo", "dupont")


# --- The page ------------------------------------------------------------------------------


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_search_page_without_javascript_shows_holders_and_preferred(client, directory):
    response = client.get("/annuaire?q=marie+dupont")
    assert response.status_code == 200
    page = soup(response)
    assert page.find("h2", id="results-title").get_text(strip=True) == "1 résultat"
    (holder,) = page.select(".portal-directory-holder")
    assert holder.find("h3").get_text(strip=True) == "Marie Dupont"
    addresses = [a.get_text(strip=True) for a in holder.select(".portal-directory-address")]
    assert addresses == ["m.dupont@autre.mssante.fr", "marie.dupont@medecin.mssante.fr"]
    preferred = holder.select_one(".portal-directory-preferred")
    assert "Adresse préférée" in preferred.get_text()
    assert "m.dupont@autre.mssante.fr" in preferred.get_text()
    assert "cachee.dupont" not in response.get_data(as_text=True)
    assert page.find("input", id="q")["value"] == "marie dupont"  # the query stays in the box


def test_org_mailboxes_are_listed_under_their_structure(client, directory):
    page = soup(client.get("/annuaire?q=voltaire&type=ORG"))
    (holder,) = page.select(".portal-directory-holder")
    assert holder.find("h3").get_text(strip=True) == "Centre de santé Voltaire"
    assert "accueil.voltaire@cds.mssante.fr" in holder.get_text()
    assert "Accueil" in holder.get_text()


def test_bad_input_is_explained_and_kept(client, directory):
    page = soup(client.get("/annuaire?q=dupont&lieu=Paris"))
    alert = page.select_one(".fr-alert--error")
    assert "ni un département" in alert.get_text()
    assert page.find("input", id="lieu")["value"] == "Paris"
    assert page.find("input", id="q")["value"] == "dupont"
    assert not page.select(".portal-directory-holder")


def test_search_page_in_english(client, directory):
    page = soup(client.get("/annuaire?q=dupont&lang=en"))
    assert page.find("h1").get_text(strip=True) == "Find an MSSanté address"


def test_navigation_has_the_directory(client):
    page = soup(client.get("/"))
    links = {a.get_text(strip=True): a["href"] for a in page.select(".fr-nav__link")}
    assert links["Annuaire"] == "/annuaire"


# --- The API -------------------------------------------------------------------------------


def test_api_search(client, directory):
    body = client.get("/api/v1/directory/search?q=dupnot").get_json()
    assert body["total"] == 1
    assert body["corrections"] == {"dupnot": ["dupont"]}
    (marie,) = body["results"]
    assert marie["kind"] == "professional" and marie["idnps"] == "810000000001"
    assert [m["address"] for m in marie["mailboxes"]] == [
        "m.dupont@autre.mssante.fr",
        "marie.dupont@medecin.mssante.fr",
    ]
    assert marie["mailboxes"][0]["preferred"] is True


def test_api_never_returns_liste_rouge(client, directory):
    body = client.get("/api/v1/directory/search?q=secret").get_json()
    assert body["total"] == 0 and body["results"] == []
    assert "cachee" not in client.get("/api/v1/directory/search?q=dupont").get_data(as_text=True)


def test_api_refuses_unknown_parameters(client, directory):
    response = client.get("/api/v1/directory/search?q=dupont&sort=name")
    assert response.status_code == 400
    assert "sort" in response.get_json()["error"]["detail"]


def test_api_is_described_in_openapi(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/directory/search"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "profession", "lieu", "type"}
    assert "DirectorySearchPage" in document["components"]["schemas"]


# --- Ranking, identifiers and the cap --------------------------------------------------------


@pytest.fixture
def dupon_family(db_session):
    for n, (first, last) in enumerate(
        [("Anne", "Dupont"), ("Bruno", "Dupond"), ("Carla", "Dupondel"), ("Denis", "Dupond")]
    ):
        make_entry(
            db_session,
            address=f"{first.lower()}.{last.lower()}@medecin.mssante.fr",
            idnps=f"8100000010{n:02d}",
            first_name=first,
            last_name=last,
            postal_code="33000",
        )
    db_session.commit()


def test_exact_words_rank_before_prefixes_and_typos(db_session, dupon_family):
    page = search_directory(db_session, SearchFilters(q="dupond"))
    # Both Dupond first (by first name), then the longer name it prefixes, then the one-typo
    # neighbour: "Dupond" also finds "Dupont" although names start with "dupond".
    assert [holder.name for holder in page.results] == [
        "Bruno Dupond",
        "Denis Dupond",
        "Carla Dupondel",
        "Anne Dupont",
    ]
    assert page.corrections == {"dupond": ["dupont"]}
    assert page.total == 4 and not page.capped


def test_a_typo_neighbour_that_finds_nothing_more_is_not_announced(db_session, dupon_family):
    page = search_directory(db_session, SearchFilters(q="dupondel"))
    assert [holder.name for holder in page.results] == ["Carla Dupondel"]
    assert page.corrections == {}


def test_identifiers_are_looked_up_exactly_and_as_prefixes(db_session, directory):
    assert names(db_session, q="0000000001") == []  # not an identifier's prefix or a word
    assert names(db_session, q="100000000") == ["Marie Dupont", "Hélène Lœuvre"]  # prefixes
    assert names(db_session, q="1750000099") == ["Centre de santé Voltaire", "Marie Dupont"]


def test_place_filter_with_a_name(db_session, directory):
    assert names(db_session, q="dupont", place="75") == ["Marie Dupont"]
    assert names(db_session, q="dupont", place="75011") == ["Marie Dupont"]
    assert names(db_session, q="dupont", place="69") == []
    assert names(db_session, q="loeuvre", place="69003") == ["Hélène Lœuvre"]
    assert names(db_session, q="loeuvre", place="2A") == []


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr("portal.directory.search.MAX_RESULTS", 2)


def test_results_are_capped_and_the_page_asks_to_refine(
    client, db_session, dupon_family, small_cap
):
    page = search_directory(db_session, SearchFilters(q="dupo"))
    assert page.capped and page.total == 2
    assert search_directory(db_session, SearchFilters(q="carla dupo")).capped is False

    html = soup(client.get("/annuaire?q=dupo"))
    assert html.find("h2", id="results-title").get_text(strip=True) == "Plus de 2 résultats"
    assert "précisez votre recherche" in html.select_one(".fr-alert--info").get_text()
    assert len(html.select(".portal-directory-holder")) == 2

    body = client.get("/api/v1/directory/search?q=dupo").get_json()
    assert body["capped"] is True and body["total"] == 2 and len(body["results"]) == 2


def test_the_count_follows_each_language_s_plural_rule(client, db_session, dupon_family):
    def count(query: str) -> str:
        return (
            soup(client.get(f"/annuaire?{query}"))
            .find("h2", id="results-title")
            .get_text(strip=True)
        )

    # French puts 0 and 1 in the singular, English only 1.
    assert [count("q=zzzyx"), count("q=carla"), count("q=dupo")] == [
        "0 résultat",
        "1 résultat",
        "4 résultats",
    ]
    assert [count("q=zzzyx&lang=en"), count("q=carla&lang=en")] == ["0 results", "1 result"]


def test_uncapped_page_says_nothing_about_refining(client, db_session, dupon_family):
    html = soup(client.get("/annuaire?q=dupo"))
    assert html.find("h2", id="results-title").get_text(strip=True) == "4 résultats"
    assert not html.select(".fr-alert--info")
    assert client.get("/api/v1/directory/search?q=dupo").get_json()["capped"] is False


# --- Word beginnings indexed on PostgreSQL --------------------------------------------------


def test_search_prefixes_are_the_beginnings_of_words_but_not_of_identifiers():
    from portal.directory.indexing import search_prefixes

    assert search_prefixes("dupont 75011 810000000001 m").split() == [
        "^du",
        "^dup",
        "^dupo",
        "^dupon",
        "^dupont",
        "^75",
        "^750",
        "^7501",
        "^75011",
    ]


@pytest.mark.server
def test_migration_fills_prefixes_like_the_importer(db_session, directory):
    import importlib.util

    from sqlalchemy import text
    from sqlmodel import select

    from portal.config import PROJECT_ROOT
    from portal.directory.models import DirectoryEntry

    if db_session.get_bind().dialect.name != "postgresql":
        pytest.fail("This test needs TEST_DATABASE_URL (PostgreSQL).")
    path = PROJECT_ROOT / "migrations/versions/0006_directory_search_prefixes.py"
    spec = importlib.util.spec_from_file_location("migration_0006", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    written = {e.address: e.search_prefixes for e in db_session.exec(select(DirectoryEntry))}
    db_session.execute(text(migration.FILL_POSTGRESQL))
    db_session.expire_all()
    filled = {e.address: e.search_prefixes for e in db_session.exec(select(DirectoryEntry))}
    assert {a: set(p.split()) for a, p in filled.items()} == {
        a: set(p.split()) for a, p in written.items()
    }
    assert names(db_session, q="dupo mar") == ["Marie Dupont"]
    # The planner setting of the search does not outlive it.
    assert db_session.execute(text("SHOW enable_seqscan")).scalar_one() == "on"


# --- Filters inside the index, long prefixes, typos in several words --------------------------


@pytest.fixture
def voltaires(db_session):
    common = {"postal_code": "97110", "address_l6": "97110 POINTE-A-PITRE"}
    make_entry(
        db_session,
        address="officine@voltaire.mssante.fr",
        mailbox_type="ORG",
        structure_id_type="1",
        structure_id="970000011",
        structure_name="Pharmacie Voltaire",
        **common,
    )
    make_entry(
        db_session,
        address="paul.voltaire@pharmacien.mssante.fr",
        idnps="810000002001",
        first_name="Paul",
        last_name="Voltaire",
        profession_code="21",
        profession_label="Pharmacien",
        **common,
    )
    make_entry(
        db_session,
        address="luc.voltaire@pro.mssante.fr",
        idnps="810000002002",
        first_name="Luc",
        last_name="Voltaire",
        profession_code="99",
        profession_label="Pharmacologue",  # begins with "pharma", not with "pharmacie"
        postal_code="20000",
        address_l6="20000 AJACCIO",
    )
    db_session.commit()


def test_a_long_prefix_beside_another_word_matches_whole(db_session, voltaires):
    # Exact words first, then "pharmacie" as a prefix (pharmacien); never "pharmacologue".
    assert names(db_session, q="pharmacie voltaire") == ["Pharmacie Voltaire", "Paul Voltaire"]
    assert names(db_session, q="voltaire pharmaci") == ["Pharmacie Voltaire", "Paul Voltaire"]
    assert names(db_session, q="pharmaco volt") == ["Luc Voltaire"]
    assert names(db_session, q="pharmacologues voltaire") == []


def test_filters_with_words_on_every_kind_of_place(db_session, voltaires):
    assert names(db_session, q="voltaire", profession="21") == ["Paul Voltaire"]
    assert names(db_session, q="voltaire", mailbox_type="ORG") == ["Pharmacie Voltaire"]
    assert names(db_session, q="voltaire", place="971", profession="21") == ["Paul Voltaire"]
    assert names(db_session, q="voltaire", place="97") == ["Pharmacie Voltaire", "Paul Voltaire"]
    assert names(db_session, q="voltaire", place="97110", mailbox_type="PER") == ["Paul Voltaire"]
    assert names(db_session, q="voltaire", place="2A") == ["Luc Voltaire"]
    assert names(db_session, q="voltaire", place="2B") == ["Luc Voltaire"]  # postcodes 20…
    assert names(db_session, q="voltaire", place="75") == []


def test_a_changed_profession_is_found_by_its_new_filter(db_session, voltaires):
    from sqlmodel import select

    from portal.directory.models import DirectoryEntry

    entry = db_session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == "luc.voltaire@pro.mssante.fr")
    ).one()
    entry.profession_code = "21"
    db_session.commit()
    assert names(db_session, q="voltaire", profession="21") == ["Luc Voltaire", "Paul Voltaire"]


def test_a_typo_in_each_of_two_words(db_session, directory):
    page = search_directory(db_session, SearchFilters(q="Dupnot Mraie"))
    assert [holder.name for holder in page.results] == ["Marie Dupont"]
    assert page.corrections == {"dupnot": ["dupont"], "mraie": ["marie"]}


def test_only_the_word_whose_neighbours_found_someone_is_announced(db_session, directory):
    page = search_directory(db_session, SearchFilters(q="Dupnot Marie"))
    assert [holder.name for holder in page.results] == ["Marie Dupont"]
    assert page.corrections == {"dupnot": ["dupont"]}


@pytest.mark.server
def test_postgresql_matches_words_and_filters_through_the_text_index(db_session, voltaires):
    from sqlalchemy import text

    from portal.directory.search import _match, narrowing

    if db_session.get_bind().dialect.name != "postgresql":
        pytest.fail("This test needs TEST_DATABASE_URL (PostgreSQL).")
    filters = SearchFilters(q="pharmacie volt", profession="21", place="971")
    statement = _match(db_session, [["pharmacie"], ["volt*"]], narrowing(db_session, filters))
    compiled = statement.compile(db_session.get_bind(), compile_kwargs={"literal_binds": True})
    db_session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db_session.execute(text(f"EXPLAIN {compiled}")))
    # The query's expression is the index's (migration 0008), the tags are in the tsquery.
    assert "ix_directoryentry_fts" in plan
    assert "'pharmacie'' & ''^volt'' & ''^971'' & ''=p21'" in plan
