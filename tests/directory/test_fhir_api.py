"""The FHIR R4 API: resources validate with fhir.resources, carry the ANS extensions, and
PATCH by identifier follows the write API's answers."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from sqlmodel import select

from portal.directory.fhir import (
    EMAIL_TYPE_URL,
    MAILBOX_METADATA_URL,
    MAILBOX_TYPE_SYSTEM,
)
from portal.directory.models import DirectoryEntry
from tests.directory.helpers import make_entry, make_structure
from tests.factories import make_professional

MODELS = {
    "Practitioner": Practitioner,
    "PractitionerRole": PractitionerRole,
    "Organization": Organization,
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "OperationOutcome": OperationOutcome,
}
TOKEN = "a-long-test-token-for-the-fhir-write-api"


def fhir_get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type.startswith("application/fhir+json")
    body = response.get_json()
    MODELS[body["resourceType"]].model_validate(body)  # raises if not valid FHIR
    if body["resourceType"] == "Bundle":
        for item in body.get("entry", []):
            MODELS[item["resource"]["resourceType"]].model_validate(item["resource"])
    return body


def metadata_of(point):
    (extension,) = [e for e in point["extension"] if e["url"] == MAILBOX_METADATA_URL]
    return {part["url"]: part for part in extension["extension"]}


@pytest.fixture
def directory(db_session):
    make_entry(
        db_session,
        address="marie.dupont@medecin.mssante.fr",
        idnps="810000000001",
        pp_id_type="8",
        pp_id="10000000001",
        first_name="Marie",
        last_name="Dupont",
        profession_code="10",
        profession_label="Médecin",
        structure_id_type="1",
        structure_id="750000099",
        structure_name="Centre de santé Voltaire",
        preferred=True,
    )
    make_entry(
        db_session,
        address="m.dupont@autre.mssante.fr",
        idnps="810000000001",
        pp_id_type="8",
        pp_id="10000000001",
        first_name="Marie",
        last_name="Dupont",
    )
    make_entry(
        db_session,
        address="secret.dupont@medecin.mssante.fr",
        idnps="810000000001",
        first_name="Marie",
        last_name="Dupont",
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
        responsible="Mme Leroy",
        postal_code="75011",
        address_l6="75011 PARIS",
    )
    db_session.commit()  # requests close their session: keep the rows in the test transaction


def test_capability_statement_lists_resources_and_search_parameters(client):
    body = fhir_get(client, "/fhir/metadata")
    assert body["fhirVersion"] == "4.0.1"
    resources = {resource["type"]: resource for resource in body["rest"][0]["resource"]}
    assert set(resources) == {"Practitioner", "PractitionerRole", "Organization"}
    names = {param["name"] for param in resources["Practitioner"]["searchParam"]}
    assert {"mailbox-mss", "mailbox-mss-type", "identifier", "name"} <= names
    common = {param["name"] for param in body["rest"][0]["searchParam"]}
    assert common == {"_count", "_offset", "_total"}


def test_practitioner_read_shows_public_mailboxes_with_ans_extensions(client, directory):
    body = fhir_get(client, "/fhir/Practitioner/810000000001")
    addresses = [point["value"] for point in body["telecom"]]
    assert addresses == ["marie.dupont@medecin.mssante.fr", "m.dupont@autre.mssante.fr"]
    assert "secret.dupont@medecin.mssante.fr" not in str(body)  # liste rouge
    preferred = body["telecom"][0]
    assert preferred["rank"] == 1 and "rank" not in body["telecom"][1]
    assert any(e["url"] == EMAIL_TYPE_URL for e in preferred["extension"])
    metadata = metadata_of(preferred)
    assert metadata["type"]["valueCodeableConcept"]["coding"][0] == {
        "system": MAILBOX_TYPE_SYSTEM,
        "code": "PER",
    }
    assert metadata["listeRouge"]["valueBoolean"] is False
    assert body["identifier"][0]["value"] == "810000000001"


def test_organization_read_and_unknown_id(client, directory):
    body = fhir_get(client, "/fhir/Organization/1750000099")
    assert body["name"] == "Centre de santé Voltaire"
    (point,) = body["telecom"]
    metadata = metadata_of(point)
    assert metadata["service"]["valueString"] == "Accueil"
    assert metadata["responsible"]["valueString"] == "Mme Leroy"
    outcome = fhir_get(client, "/fhir/Organization/1999999999", status=404)
    assert outcome["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mailbox-mss=marie.dup", ["810000000001"]),
        ("mailbox-mss:exact=m.dupont@autre.mssante.fr", ["810000000001"]),
        ("mailbox-mss:exact=m.dupont@autre", []),
        ("mailbox-mss:contains=autre.mssante", ["810000000001"]),
        ("mailbox-mss:contains=secret", []),  # liste rouge never matches
        ("identifier=https://rpps.esante.gouv.fr|10000000001", ["810000000001"]),
        ("name=dupont", ["810000000001"]),
        ("name=DUPONT&mailbox-mss-type=PER", ["810000000001"]),
        ("mailbox-mss-type=ORG", []),
    ],
)
def test_practitioner_search(client, directory, query, expected):
    body = fhir_get(client, f"/fhir/Practitioner?{query}")
    assert [item["resource"]["id"] for item in body.get("entry", [])] == expected
    assert body["total"] == len(expected)


def test_practitioner_role_and_organization_search(client, directory):
    roles = fhir_get(client, "/fhir/PractitionerRole?identifier=810000000001")
    ids = sorted(item["resource"]["id"] for item in roles["entry"])
    assert ids == ["810000000001-0", "810000000001-1750000099"]
    role = next(i["resource"] for i in roles["entry"] if i["resource"]["id"].endswith("99"))
    assert role["organization"]["reference"] == "Organization/1750000099"
    assert role["code"][0]["coding"][0]["code"] == "10"
    fhir_get(client, "/fhir/PractitionerRole/810000000001-1750000099")
    organizations = fhir_get(
        client, "/fhir/Organization?identifier=https://finess.esante.gouv.fr|750000099"
    )
    assert [i["resource"]["id"] for i in organizations["entry"]] == ["1750000099"]


def test_search_paging_links(client, db_session):
    for n in range(5):
        make_entry(
            db_session,
            address=f"pro{n}@page.mssante.fr",
            idnps=f"8200000000{n:02d}",
            last_name="Paginé",
        )
    db_session.commit()
    first = fhir_get(client, "/fhir/Practitioner?name=pagine&_count=2")
    assert first["total"] == 5 and len(first["entry"]) == 2
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert "next" in links and "previous" not in links
    second = fhir_get(client, links["next"].split("localhost", 1)[1])
    assert [i["resource"]["id"] for i in second["entry"]] == ["820000000002", "820000000003"]


@pytest.mark.parametrize(
    "query",
    ["foo=bar", "mailbox-mss:missing=x", "_count=abc", "name="],
)
def test_unknown_or_bad_parameters_get_an_operation_outcome(client, directory, query):
    body = fhir_get(client, f"/fhir/Practitioner?{query}", status=400)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["diagnostics"]


# --- PATCH ---------------------------------------------------------------------------------


def _insert(address, mailbox_type="PER", type_encoding="r257", resource="Practitioner", **meta):
    if type_encoding == "r257":
        type_part = {
            "url": "type",
            "valueCodeableConcept": {
                "coding": [{"system": MAILBOX_TYPE_SYSTEM, "code": mailbox_type}]
            },
        }
    elif type_encoding == "r256":
        type_part = {
            "url": "type",
            "valueCoding": {
                "system": "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie",
                "code": mailbox_type,
            },
        }
    else:
        type_part = {"url": "type", "valueCode": mailbox_type}
    parts = [type_part] + [{"url": k, "valueString": v} for k, v in meta.items()]
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "insert"},
                    {"name": "path", "valueString": f"{resource}.telecom"},
                    {"name": "index", "valueInteger": 0},
                    {
                        "name": "value",
                        "valueContactPoint": {
                            "system": "email",
                            "value": address,
                            "extension": [{"url": MAILBOX_METADATA_URL, "extension": parts}],
                        },
                    },
                ],
            }
        ],
    }


@pytest.fixture
def writable(app):
    settings = app.config["PORTAL_SETTINGS"]
    app.config["PORTAL_SETTINGS"] = settings.with_overrides(fhir_write_token=TOKEN)
    yield
    app.config["PORTAL_SETTINGS"] = settings


def patch(client, url, body, token=TOKEN):
    headers = {"Content-Type": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = client.patch(url, json=body, headers=headers)
    body = response.get_json()
    MODELS[body["resourceType"]].model_validate(body)
    return response.status_code, body


@pytest.mark.parametrize("encoding", ["r257", "r256", "bare"])
def test_patch_insert_accepts_the_three_type_encodings(client, db_session, writable, encoding):
    professional = make_professional(db_session, rpps="10000000077")
    db_session.commit()
    status, body = patch(
        client,
        "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|810000000077",
        _insert(f"new.{encoding}@pro.mssante.fr", type_encoding=encoding),
    )
    assert status == 200, body
    assert body["telecom"][0]["value"] == f"new.{encoding}@pro.mssante.fr"
    entry = db_session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == f"new.{encoding}@pro.mssante.fr")
    ).one()
    assert entry.mailbox_type == "PER" and entry.idnps == professional.idnps


def test_patch_without_token_is_refused_and_changes_nothing(client, db_session, writable):
    make_professional(db_session, rpps="10000000078")
    db_session.commit()
    url = "/fhir/Practitioner?identifier=https://rpps.esante.gouv.fr|10000000078"
    status, outcome = patch(client, url, _insert("x@pro.mssante.fr"), token=None)
    assert status == 401 and outcome["issue"][0]["code"] == "login"
    status, _body = patch(client, url, _insert("x@pro.mssante.fr"), token="wrong" * 6)
    assert status == 401
    assert (
        db_session.exec(
            select(DirectoryEntry).where(DirectoryEntry.address == "x@pro.mssante.fr")
        ).first()
        is None
    )


def test_patch_is_disabled_without_a_configured_token(client, db_session):
    status, _body = patch(
        client, "/fhir/Practitioner?identifier=810000000001", _insert("y@pro.mssante.fr")
    )
    assert status == 403


def test_patch_unknown_identifier_is_404_and_ambiguous_is_412(client, db_session, writable):
    status, body = patch(
        client,
        "/fhir/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|899999999999",
        _insert("z@pro.mssante.fr"),
    )
    assert status == 404 and body["resourceType"] == "OperationOutcome"
    make_structure(db_session, finess="750000201", siren="732829320", siret="73282932000074")
    make_structure(db_session, finess="750000202", siren="732829320", siret=None)
    db_session.commit()
    status, body = patch(
        client,
        "/fhir/Organization?identifier=http://sirene.fr|732829320",
        _insert("org@cds.mssante.fr", "ORG", resource="Organization"),
    )
    assert status == 412


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"resourceType": "Patient"}, 400),
        (
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "operation", "part": [{"name": "type", "valueCode": "move"}]}
                ],
            },
            400,
        ),
        ({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": "nope"}]}, 400),
        ("not json at all", 400),
    ],
)
def test_malformed_patch_bodies_get_an_operation_outcome(
    client, db_session, writable, body, status
):
    make_professional(db_session, rpps="10000000079")
    db_session.commit()
    code, outcome = patch(client, "/fhir/Practitioner?identifier=810000000079", body)
    assert code == status
    assert outcome["resourceType"] == "OperationOutcome"


def test_patch_rules_address_type_and_atomicity(client, db_session, writable, directory):
    url = "/fhir/Organization?identifier=https://finess.esante.gouv.fr|750000099"
    # A PER mailbox cannot go on an Organization.
    status, _ = patch(client, url, _insert("per@cds.mssante.fr", "PER", resource="Organization"))
    assert status == 422
    # An address outside the MSSanté pattern is refused.
    status, _ = patch(client, url, _insert("x@example.org", "ORG", resource="Organization"))
    assert status == 422
    # Two operations, the second invalid: the first is not applied either.
    body = _insert("ok@cds.mssante.fr", "ORG", resource="Organization")
    body["parameter"].append(
        _insert("accueil.voltaire@cds.mssante.fr", "ORG", resource="Organization")["parameter"][0]
    )
    status, outcome = patch(client, url, body)
    assert status == 422 and "already in the directory" in outcome["issue"][0]["diagnostics"]
    assert (
        db_session.exec(
            select(DirectoryEntry).where(DirectoryEntry.address == "ok@cds.mssante.fr")
        ).first()
        is None
    )


def test_patch_replace_edits_metadata_but_not_type_and_delete_removes(
    client, db_session, writable, directory
):
    url = "/fhir/Organization?identifier=https://finess.esante.gouv.fr|750000099"
    path = "Organization.telecom.where(value='accueil.voltaire@cds.mssante.fr')"
    replace = _insert(
        "accueil.voltaire@cds.mssante.fr", "ORG", resource="Organization", service="Accueil général"
    )
    replace["parameter"][0]["part"][0]["valueCode"] = "replace"
    replace["parameter"][0]["part"][1]["valueString"] = path
    status, body = patch(client, url, replace)
    assert status == 200
    assert metadata_of(body["telecom"][0])["service"]["valueString"] == "Accueil général"

    change_type = _insert("accueil.voltaire@cds.mssante.fr", "APP", resource="Organization")
    change_type["parameter"][0]["part"][0]["valueCode"] = "replace"
    change_type["parameter"][0]["part"][1]["valueString"] = path
    status, outcome = patch(client, url, change_type)
    assert status == 422 and "type cannot change" in outcome["issue"][0]["diagnostics"]

    delete = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "delete"},
                    {"name": "path", "valueString": path},
                ],
            }
        ],
    }
    status, body = patch(client, url, delete)
    assert status == 200 and "telecom" not in body
    assert (
        db_session.exec(
            select(DirectoryEntry).where(
                DirectoryEntry.address == "accueil.voltaire@cds.mssante.fr"
            )
        ).first()
        is None
    )


# --- name= ---------------------------------------------------------------------------------


@pytest.fixture
def three_duponts(db_session, directory):
    for n, first in enumerate(["Élodie", "Jean", "Émile"]):
        make_entry(
            db_session,
            address=f"dupont.{n}@initiales.mssante.fr",
            idnps=f"83000000000{n}",
            first_name=first,
            last_name="Dupont",
        )
    db_session.commit()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dupont", ["810000000001", "830000000000", "830000000001", "830000000002"]),
        ("J Dupont", ["830000000001"]),
        ("dupont m", ["810000000001"]),  # Marie: an initial in any position
        ("e dupont", ["830000000000", "830000000002"]),  # É of Élodie and Émile
        ("É. DUPONT", ["830000000000", "830000000002"]),
        ("Em Dupont", ["830000000002"]),  # two letters are a prefix again
        ("x dupont", []),
    ],
)
def test_a_single_letter_beside_a_name_is_an_initial(client, three_duponts, name, expected):
    body = fhir_get(client, f"/fhir/Practitioner?name={name}")
    assert sorted(item["resource"]["id"] for item in body.get("entry", [])) == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize("name", ["m", "M.", "j d", "7"])
def test_a_name_of_single_letters_is_refused_not_expanded(client, three_duponts, name):
    # "m" as a prefix would match every entry ("mssante" is in every address).
    outcome = fhir_get(client, f"/fhir/Practitioner?name={name}", status=400)
    assert outcome["issue"][0]["code"] == "too-costly"
    assert "at least two letters" in outcome["issue"][0]["diagnostics"]


def test_an_initial_narrows_organizations_by_their_name(client, directory):
    body = fhir_get(client, "/fhir/Organization?name=c voltaire")
    assert [item["resource"]["id"] for item in body["entry"]] == ["1750000099"]
    body = fhir_get(client, "/fhir/Organization?name=v sante")
    assert body["total"] == 0
