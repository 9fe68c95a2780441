"""Reading PSC UserInfo: identifiers, names, every exercice and activity; nothing invented."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.accounts.devidp import load_professionals
from portal.accounts.models import Activity, Professional, Structure
from portal.accounts.psc import PscClaimsError, identity_from_userinfo, record_identity
from portal.accounts.session import safe_next_path

PHARMACIST = next(p for p in load_professionals() if p["key"] == "pharmacien-titulaire")["claims"]


def test_the_national_identifier_comes_from_subject_name_id_or_preferred_username():
    assert identity_from_userinfo(PHARMACIST).idnps == "810100000037"
    claims = {k: v for k, v in PHARMACIST.items() if k != "SubjectNameID"}
    identity = identity_from_userinfo(claims)
    assert identity.idnps == "810100000037" and identity.rpps == "10100000037"


@pytest.mark.parametrize("bad", [None, "", "12345", "8123", "9" * 12, "81010000003X"])
def test_without_a_valid_national_identifier_nobody_is_recognised(bad):
    claims = dict(PHARMACIST, SubjectNameID=bad, preferred_username=bad)
    with pytest.raises(PscClaimsError):
        identity_from_userinfo(claims)


def test_an_adeli_identifier_has_no_rpps():
    identity = identity_from_userinfo(dict(PHARMACIST, SubjectNameID="0123456789"))
    assert identity.idnps == "0123456789" and identity.rpps is None


def test_activities_are_read_in_full():
    identity = identity_from_userinfo(PHARMACIST)
    assert identity.profession_code == "21" and identity.category_code == "C"
    [pharmacy] = identity.activities
    assert pharmacy.finess_site == "350000022" and pharmacy.finess_legal_entity == "350000014"
    assert pharmacy.siret == "90000000100011" and pharmacy.siren == "900000001"
    assert pharmacy.sector_code == "SA33" and pharmacy.mode_code == "L"
    assert pharmacy.address_line == "4 place du Parc"
    assert (pharmacy.postal_code, pharmacy.city) == ("35000", "RENNES")


def test_an_activity_without_finess_or_siret_links_no_structure(db_session):
    claims = dict(PHARMACIST, SubjectNameID="810100009999")
    claims["SubjectRefPro"] = {
        "exercices": [
            {"codeProfession": "21", "activities": [{"raisonSocialeSite": "SANS IDENTIFIANT"}]}
        ]
    }
    professional = record_identity(db_session, identity_from_userinfo(claims))
    links = db_session.exec(
        select(Activity).where(Activity.professional_id == professional.id)
    ).all()
    assert links == []
    assert (
        db_session.exec(select(Structure).where(Structure.name == "SANS IDENTIFIANT")).first()
        is None
    )


def test_an_activity_psc_no_longer_lists_loses_its_link(db_session):
    identity = identity_from_userinfo(PHARMACIST)
    professional = db_session.exec(
        select(Professional).where(Professional.idnps == identity.idnps)
    ).one()
    assert db_session.exec(
        select(Activity).where(Activity.professional_id == professional.id)
    ).all()
    claims = dict(
        PHARMACIST, SubjectRefPro={"exercices": [{"codeProfession": "21", "activities": []}]}
    )
    record_identity(db_session, identity_from_userinfo(claims))
    assert not db_session.exec(
        select(Activity).where(Activity.professional_id == professional.id)
    ).all()


@pytest.mark.parametrize(
    ("postal_code", "department"), [("20000", "2A"), ("20200", "2B"), ("97400", "974")]
)
def test_departments_from_postal_codes(db_session, postal_code, department):
    claims = dict(PHARMACIST, SubjectNameID="810100008888")
    activity = dict(PHARMACIST["SubjectRefPro"]["exercices"][0]["activities"][0])
    activity.update(numeroFinessSite="999999999", numeroSiretSite="", codePostal=postal_code)
    claims["SubjectRefPro"] = {"exercices": [{"codeProfession": "21", "activities": [activity]}]}
    record_identity(db_session, identity_from_userinfo(claims))
    structure = db_session.exec(select(Structure).where(Structure.finess == "999999999")).one()
    assert structure.department_code == department


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/offres?type=ORG", "/offres?type=ORG"),
        ("/", "/"),
        (None, None),
        ("", None),
        ("offres", None),
        ("//evil.example", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("/ok\r\nSet-Cookie: x=1", None),
        ("javascript:alert(1)", None),
    ],
)
def test_only_paths_of_this_site_are_safe_next_targets(value, expected):
    assert safe_next_path(value) == expected
