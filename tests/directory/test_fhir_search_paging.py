"""FHIR searches at scale: mailbox-mss prefixes through the index of migration 0009, and
Bundles whose total is left out when counting would be costly, with paging that stays stable."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.directory import fhir_api
from portal.directory.models import DirectoryEntry
from tests.directory.helpers import make_entry
from tests.directory.test_fhir_api import fhir_get

ADDRESSES = [
    "abc.martin@medecin.mssante.fr",
    "abc_z@medecin.mssante.fr",
    "abcz@medecin.mssante.fr",
    "abd@medecin.mssante.fr",
    "ab@pro.mssante.fr",
    "ac@pro.mssante.fr",
]


@pytest.fixture
def prefixes(db_session):
    for n, address in enumerate(ADDRESSES):
        make_entry(db_session, address=address, idnps=f"83000000000{n}", last_name="Préfixe")
    db_session.commit()


def ids_of(body):
    return [item["resource"]["id"] for item in body.get("entry", [])]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", ["830000000000", "830000000001", "830000000002"]),
        ("ABC.", ["830000000000"]),
        ("abc_", ["830000000001"]),  # "_" is a character, not LIKE's wildcard
        ("ab", ["830000000000", "830000000001", "830000000002", "830000000003", "830000000004"]),
        ("abd@medecin.mssante.fr", ["830000000003"]),
        ("abz", []),
        ("b", []),
    ],
)
def test_mailbox_mss_is_a_case_insensitive_prefix(client, prefixes, value, expected):
    body = fhir_get(client, f"/fhir/Practitioner?mailbox-mss={value}")
    assert ids_of(body) == expected
    assert body["total"] == len(expected)


def test_the_address_prefix_condition_uses_the_index_of_migration_0009(db_session):
    condition = fhir_api._address_prefix_condition(
        db_session, func.lower(DirectoryEntry.address), "abc"
    )
    statement = select(DirectoryEntry.id).where(condition)
    connection = db_session.connection()
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN {compiled}")
    assert "ix_directoryentry_address_lower" in " ".join(str(row) for row in plan)


@pytest.fixture
def fifteen(db_session):
    for n in range(15):
        make_entry(
            db_session,
            address=f"pro{n:02d}@nombreux.mssante.fr",
            idnps=f"8400000000{n:02d}",
            last_name="Nombreux",
        )
    # A second address of the first practitioner: one resource, two entries.
    make_entry(
        db_session,
        address="autre@nombreux.mssante.fr",
        idnps="840000000000",
        last_name="Nombreux",
        structure_id_type="1",
        structure_id="750000123",
    )
    db_session.commit()


@pytest.fixture
def costly_counts(monkeypatch):
    """Counting counts as costly from 10 resources (SQLite) / any estimate (PostgreSQL)."""
    monkeypatch.setattr(fhir_api, "TOTAL_CAP", 10)
    monkeypatch.setattr(fhir_api, "TOTAL_ROWS_ESTIMATE", 0)


def next_url(body):
    links = {link["relation"]: link["url"] for link in body["link"]}
    return links["next"].split("localhost", 1)[1] if "next" in links else None


def page_through(client, url):
    """Follow the next links from ``url``: the resource ids in order, and each page's total."""
    seen, totals = [], []
    while url:
        body = fhir_get(client, url)
        seen += ids_of(body)
        totals.append(body.get("total"))
        url = next_url(body)
    return seen, totals


def test_a_large_result_has_no_total_and_pages_through_every_resource_once(
    client, fifteen, costly_counts
):
    seen, totals = page_through(client, "/fhir/Practitioner?name=nombreux&_count=4")
    assert seen == [f"8400000000{n:02d}" for n in range(15)]
    # Only the last page knows the total without counting.
    assert totals == [None, None, None, 15]


def test_total_modes(client, fifteen, costly_counts):
    accurate = fhir_get(client, "/fhir/Practitioner?name=nombreux&_count=4&_total=accurate")
    assert accurate["total"] == 15 and len(accurate["entry"]) == 4
    estimate = fhir_get(client, "/fhir/Practitioner?name=nombreux&_count=4&_total=estimate")
    assert "total" not in estimate and ids_of(estimate) == ids_of(accurate)
    last = fhir_get(client, "/fhir/Practitioner?name=nombreux&_count=4&_offset=12&_total=none")
    assert "total" not in last and len(last["entry"]) == 3
    links = {link["relation"] for link in last["link"]}
    assert links == {"self", "previous"}
    only_total = fhir_get(client, "/fhir/Practitioner?name=nombreux&_count=0&_total=accurate")
    assert only_total["total"] == 15 and not only_total.get("entry")
    refused = fhir_get(client, "/fhir/Practitioner?name=nombreux&_total=some", status=400)
    assert refused["resourceType"] == "OperationOutcome"
    assert "_total" in refused["issue"][0]["diagnostics"]


def test_small_results_keep_their_exact_total(client, fifteen):
    body = fhir_get(client, "/fhir/Practitioner?name=nombreux&_count=4")
    assert body["total"] == 15
    assert next_url(body) == "/fhir/Practitioner?name=nombreux&_count=4&_offset=4"
    roles = fhir_get(client, "/fhir/PractitionerRole?name=nombreux&_count=2&_offset=0")
    assert roles["total"] == 16
    assert ids_of(roles) == ["840000000000-0", "840000000000-1750000123"]


def test_practitioner_roles_page_in_order_of_their_practitioner(client, fifteen, costly_counts):
    seen, _totals = page_through(client, "/fhir/PractitionerRole?mailbox-mss=pro0&_count=3")
    assert seen == [f"8400000000{n:02d}-0" for n in range(10)]


@pytest.mark.parametrize(("cap", "rows_estimate", "total"), [(15, 10**9, 15), (14, 0, None)])
def test_the_total_is_given_up_to_the_cap(client, fifteen, monkeypatch, cap, rows_estimate, total):
    monkeypatch.setattr(fhir_api, "TOTAL_CAP", cap)
    monkeypatch.setattr(fhir_api, "TOTAL_ROWS_ESTIMATE", rows_estimate)
    body = fhir_get(client, "/fhir/Practitioner?name=nombreux&_count=4")
    assert body.get("total") == total
    assert ids_of(body) == [f"8400000000{n:02d}" for n in range(4)]
    assert next_url(body) == "/fhir/Practitioner?name=nombreux&_count=4&_offset=4"


@pytest.mark.parametrize("total_mode", ["estimate", "accurate"])
def test_contains_pages_through_every_role_once(client, fifteen, costly_counts, total_mode):
    url = f"/fhir/PractitionerRole?mailbox-mss:contains=NOMBREUX.mss&_count=5&_total={total_mode}"
    seen, totals = page_through(client, url)
    assert seen == [
        "840000000000-0",
        "840000000000-1750000123",
        *(f"8400000000{n:02d}-0" for n in range(1, 15)),
    ]
    if total_mode == "accurate":
        assert totals == [16, 16, 16, 16]
    else:
        assert totals == [None, None, None, 16]


@pytest.mark.parametrize(
    ("types", "expected"), [("PER", 15), ("PER,ORG", 15), ("ORG", 0), ("CAB", 0)]
)
def test_mailbox_type_narrows_the_resource_types(client, fifteen, types, expected):
    body = fhir_get(client, f"/fhir/Practitioner?name=nombreux&mailbox-mss-type={types}")
    assert body["total"] == expected and len(body.get("entry", [])) == min(expected, 20)
