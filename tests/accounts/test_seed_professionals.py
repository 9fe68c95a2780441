"""Demo professionals from seed/professionals.yaml, recorded as a PSC sign-in would."""

from __future__ import annotations

from sqlmodel import select

from portal.accounts.models import Activity, Professional, Structure
from portal.seed import SeedError, seed_database


def structures_of(session, idnps: str) -> list[Structure]:
    professional = session.exec(select(Professional).where(Professional.idnps == idnps)).one()
    return session.exec(
        select(Structure)
        .join(Activity, Activity.structure_id == Structure.id)
        .where(Activity.professional_id == professional.id)
        .order_by(Structure.name)
    ).all()


def test_the_demo_professionals_and_their_structures_are_seeded(db_session):
    professions = {p.idnps: p.profession_code for p in db_session.exec(select(Professional)).all()}
    assert professions["810100000011"] == "10"  # médecin
    assert professions["810100000029"] == "60"  # infirmière
    assert professions["810100000037"] == "21"  # pharmacien titulaire
    [pharmacy] = structures_of(db_session, "810100000037")
    assert (pharmacy.type, pharmacy.finess, pharmacy.department_code) == (
        "pharmacie",
        "350000022",
        "35",
    )
    [msp] = structures_of(db_session, "810100000011")
    assert structures_of(db_session, "810100000029") == [msp]
    assert msp.type == "msp"
    assert len(structures_of(db_session, "810100000045")) == 2


def test_seeding_professionals_again_changes_nothing(db_session):
    report = seed_database(db_session)
    assert "Professional" not in report.created and "Professional" not in report.updated


def test_a_professional_without_identifier_stops_the_seed_with_its_name(db_session, tmp_path):
    from portal.seed import SEED_DIR

    for path in SEED_DIR.iterdir():
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "professionals.yaml").write_text(
        "- key: sans-identifiant\n  userinfo: {given_name: A, family_name: B}\n", encoding="utf-8"
    )
    try:
        seed_database(db_session, tmp_path)
    except SeedError as error:
        assert "sans-identifiant" in str(error)
    else:
        raise AssertionError("the seed accepted a professional without identifier")
