"""What Pro Santé Connect says about a professional, and how the portal records it.

PSC's UserInfo (see ../shared/DOMAIN.md) carries the national identifier (``SubjectNameID``,
also in ``preferred_username``), the names and ``SubjectRefPro.exercices[]``: one entry per
profession, each with the ``activities[]`` (structures) where it is practised.
:func:`identity_from_userinfo` turns those claims into plain data;
:func:`record_identity` creates or updates the Professional, the Structures of their activities
and the Activity links, so the session can tell which structures the person works in.
The seed loader uses the same functions for the demo professionals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from portal.accounts.models import Activity, Professional, Structure, StructureType
from portal.catalogue.models import Department
from portal.db import utcnow

# Directory sector codes (TRE_R02) whose structure type is known (DOMAIN.md). Any other code
# leaves the type as it is (or "autre" for a new structure): a mapping, not a guess.
SECTOR_STRUCTURE_TYPES: dict[str, str] = {
    "SA05": StructureType.CENTRE_SANTE,
    "SA17": StructureType.EHPAD_MEDICO_SOCIAL,
    "SA25": StructureType.LABORATOIRE,
    "SA29": StructureType.LABORATOIRE,
    "SA33": StructureType.PHARMACIE,
    "SA38": StructureType.PHARMACIE,
    "SA39": StructureType.PHARMACIE,
    "SA65": StructureType.PHARMACIE,
}

_IDNPS = re.compile(r"^(8\d{11}|0[0-9A-Z]{9})$")
_DIGITS = re.compile(r"^\d+$")


class PscClaimsError(ValueError):
    """The UserInfo lacks what the portal needs (e.g. no national identifier)."""


@dataclass(frozen=True)
class PscActivity:
    finess_site: str | None
    finess_legal_entity: str | None
    siret: str | None
    siren: str | None
    name: str
    trade_name: str | None
    sector_code: str | None
    role_code: str | None
    mode_code: str | None
    address_line: str | None
    postal_code: str | None
    city: str | None
    structure_type: str | None = None  # only the seed states it; PSC does not

    @property
    def has_structure(self) -> bool:
        return bool(self.finess_site or self.siret)


@dataclass(frozen=True)
class PscIdentity:
    idnps: str
    first_name: str
    last_name: str
    civility: str | None
    profession_code: str | None
    category_code: str | None
    savoir_faire_code: str | None
    exercices: list[dict[str, Any]] = field(default_factory=list)
    activities: list[PscActivity] = field(default_factory=list)

    @property
    def rpps(self) -> str | None:
        return self.idnps[1:] if self.idnps.startswith("8") else None

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _code(value: Any, length: int) -> str | None:
    text = _text(value)
    if text is None:
        return None
    text = text.replace(" ", "").upper()
    return text if len(text) == length and text.isalnum() else None


def _department_of(postal_code: str | None) -> str | None:
    if not postal_code or len(postal_code) != 5 or not _DIGITS.match(postal_code):
        return None
    if postal_code.startswith("97"):
        return postal_code[:3]
    if postal_code.startswith("20"):
        return "2A" if postal_code < "20200" else "2B"
    return postal_code[:2]


def _activity(raw: dict[str, Any]) -> PscActivity:
    street = " ".join(
        part
        for part in (
            _text(raw.get("numeroVoie")),
            _text(raw.get("indiceRepetitionVoie")),
            _text(raw.get("libelleTypeDeVoie") or raw.get("codeTypeDeVoie")),
            _text(raw.get("libelleVoie")),
        )
        if part
    )
    postal_code = _text(raw.get("codePostal"))
    cedex = _text(raw.get("bureauCedex")) or ""
    city = _text(raw.get("libelleCommune")) or _text(cedex.removeprefix(postal_code or "").strip())
    name = _text(raw.get("raisonSocialeSite")) or _text(raw.get("enseigneCommercialeSite")) or ""
    return PscActivity(
        finess_site=_code(raw.get("numeroFinessSite"), 9),
        finess_legal_entity=_code(raw.get("numeroFinessetablissementJuridique"), 9),
        siret=_code(raw.get("numeroSiretSite"), 14),
        siren=_code(raw.get("numeroSirenSite"), 9),
        name=name,
        trade_name=_text(raw.get("enseigneCommercialeSite")),
        sector_code=_text(raw.get("codeSecteurDactivite")),
        role_code=_text(raw.get("codeRole")),
        mode_code=_text(raw.get("codeModeExercice")),
        address_line=street or None,
        postal_code=postal_code if postal_code and len(postal_code) <= 5 else None,
        city=city,
        structure_type=_text(raw.get("portal_structure_type")),
    )


def identity_from_userinfo(claims: dict[str, Any]) -> PscIdentity:
    """Read PSC UserInfo claims. Raises :class:`PscClaimsError` without a valid IDNPS."""
    idnps = _text(claims.get("SubjectNameID")) or _text(claims.get("preferred_username"))
    if not idnps or not _IDNPS.match(idnps):
        raise PscClaimsError("the UserInfo has no valid national identifier (SubjectNameID)")
    ref = claims.get("SubjectRefPro") or {}
    exercices = [e for e in (ref.get("exercices") or []) if isinstance(e, dict)]
    first = exercices[0] if exercices else {}
    activities = [
        _activity(raw)
        for exercice in exercices
        for raw in (exercice.get("activities") or [])
        if isinstance(raw, dict)
    ]
    return PscIdentity(
        idnps=idnps,
        first_name=_text(claims.get("given_name")) or _text(first.get("prenomDexercice")) or "",
        last_name=_text(claims.get("family_name")) or _text(first.get("nomDexercice")) or "",
        civility=_text(first.get("codeCiviliteDexercice")) or _text(ref.get("codeCivilite")),
        profession_code=_text(first.get("codeProfession")),
        category_code=_text(first.get("codeCategorieProfessionnelle")),
        savoir_faire_code=_text(first.get("codeSavoirFaire")),
        exercices=[_without_portal_keys(e) for e in exercices],
        activities=activities,
    )


def _without_portal_keys(exercice: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in exercice.items() if k != "activities"}
    cleaned["activities"] = [
        {k: v for k, v in activity.items() if not k.startswith("portal_")}
        for activity in exercice.get("activities") or []
        if isinstance(activity, dict)
    ]
    return cleaned


def record_identity(session: Session, identity: PscIdentity) -> Professional:
    """Create or update the professional, their structures and activities. The caller commits."""
    professional = session.exec(
        select(Professional).where(Professional.idnps == identity.idnps)
    ).first()
    values = {
        "rpps": identity.rpps,
        "civility": identity.civility,
        "first_name": identity.first_name[:120],
        "last_name": identity.last_name[:120],
        "profession_code": identity.profession_code,
        "category_code": identity.category_code,
        "savoir_faire_code": identity.savoir_faire_code,
        "exercices": identity.exercices,
    }
    if professional is None:
        professional = Professional(idnps=identity.idnps, **values)
        session.add(professional)
    else:
        for key, value in values.items():
            setattr(professional, key, value)
        professional.updated_at = utcnow()
    session.flush()

    kept: set[int] = set()
    for activity in identity.activities:
        if not activity.has_structure:
            continue  # nothing identifies the structure: nothing to attach rights to
        structure = _record_structure(session, activity)
        link = session.exec(
            select(Activity).where(
                Activity.professional_id == professional.id,
                Activity.structure_id == structure.id,
            )
        ).first()
        if link is None:
            link = Activity(professional_id=professional.id, structure_id=structure.id)
            session.add(link)
        link.role_code = activity.role_code
        link.mode_code = activity.mode_code
        link.updated_at = utcnow()
        kept.add(structure.id)
    # Activities PSC no longer lists are gone: the rights they gave go with them.
    for old in session.exec(
        select(Activity).where(Activity.professional_id == professional.id)
    ).all():
        if old.structure_id not in kept:
            session.delete(old)
    session.flush()
    return professional


def _record_structure(session: Session, activity: PscActivity) -> Structure:
    structure = None
    if activity.finess_site:
        structure = session.exec(
            select(Structure).where(Structure.finess == activity.finess_site)
        ).first()
    if structure is None and activity.siret:
        structure = session.exec(select(Structure).where(Structure.siret == activity.siret)).first()
    if structure is None:
        structure = Structure(name=activity.name or activity.finess_site or activity.siret or "")
        session.add(structure)
    department = _department_of(activity.postal_code)
    if department and session.get(Department, department) is None:
        department = None
    mapped_type = activity.structure_type or SECTOR_STRUCTURE_TYPES.get(activity.sector_code or "")
    updates = {
        "finess": activity.finess_site,
        "finess_ej": activity.finess_legal_entity,
        "siret": activity.siret,
        "siren": activity.siren or (activity.siret[:9] if activity.siret else None),
        "name": (activity.name or structure.name)[:200],
        "trade_name": activity.trade_name,
        "sector_code": activity.sector_code,
        "address_line": activity.address_line,
        "postal_code": activity.postal_code,
        "city": activity.city,
        "department_code": department,
        "type": mapped_type,
    }
    for key, value in updates.items():
        if value is not None:  # PSC leaves fields blank that others filled: keep what we know
            setattr(structure, key, value)
    session.flush()
    return structure
