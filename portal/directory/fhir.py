"""Directory entries as FHIR R4 resources of the ANS directory IG, and back.

A mailbox is a ``ContactPoint`` in ``telecom`` (profile as-mailbox-mss) carrying the French core
e-mail-type extension and the ANS mailbox-metadata extension. PER and CAB mailboxes are carried
by the professional (``Practitioner``, and the ``PractitionerRole`` of the structure they belong
to); ORG and APP mailboxes by the structure (``Organization``).

Resources are plain dicts; the tests validate every one of them with ``fhir.resources.R4B``
(see docs/decisions/fhir-resources-r4b.md for why R4B models validate our R4 output).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from portal.directory.models import DirectoryEntry
from portal.identifiers import (
    FINESS_SYSTEM,
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    RPPS_SYSTEM,
    SIREN_SYSTEM,
)

FHIR_VERSION = "4.0.1"
EMAIL_TYPE_URL = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
EMAIL_TYPE_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
)
MAILBOX_METADATA_URL = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
MAILBOX_PROFILE = (
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-mailbox-mss"
)
MAILBOX_TYPE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL"
PROFESSION_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
SAVOIR_FAIRE_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
SIRET_SYSTEM = "https://sirene.fr/siret"
MAILBOX_TYPES = ("PER", "ORG", "APP", "CAB")
PERSONAL_TYPES = frozenset({"PER", "CAB"})
STRUCTURE_TYPES = frozenset({"ORG", "APP"})
# Editable after creation, per the ANS write API: listeRouge (all), description (ORG/APP/CAB),
# service and responsible (ORG/APP), rank (all).
EDITABLE_BY_TYPE = {
    "PER": frozenset({"liste_rouge", "preferred"}),
    "CAB": frozenset({"liste_rouge", "preferred", "description"}),
    "ORG": frozenset({"liste_rouge", "preferred", "description", "service", "responsible"}),
    "APP": frozenset({"liste_rouge", "preferred", "description", "service", "responsible"}),
}


class FhirError(Exception):
    """A request the FHIR API refuses; rendered as an OperationOutcome with ``status``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def operation_outcome(code: str, message: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }


# --- ContactPoint <-> mailbox fields ------------------------------------------------------


@dataclass
class MailboxFields:
    """What a ContactPoint says about a mailbox."""

    address: str
    mailbox_type: str | None = None
    description: str | None = None
    service: str | None = None
    responsible: str | None = None
    liste_rouge: bool = False
    preferred: bool = False
    digitization: bool | None = None


def contact_point(entry: DirectoryEntry) -> dict[str, Any]:
    """The telecom element of one mailbox, with the ANS extensions (type as TRE_R257)."""
    metadata: list[dict[str, Any]] = [
        {
            "url": "type",
            "valueCodeableConcept": {
                "coding": [{"system": MAILBOX_TYPE_SYSTEM, "code": entry.mailbox_type}]
            },
        }
    ]
    for name in ("description", "service", "responsible"):
        value = getattr(entry, name)
        if value and not (name == "responsible" and entry.mailbox_type == "PER"):
            metadata.append({"url": name, "valueString": value})
    digitization = _digitization(entry.dematerialisation)
    if digitization is not None:
        metadata.append({"url": "digitization", "valueBoolean": digitization})
    metadata.append({"url": "listeRouge", "valueBoolean": bool(entry.liste_rouge)})
    point: dict[str, Any] = {
        "extension": [
            {
                "url": EMAIL_TYPE_URL,
                "valueCoding": {"system": EMAIL_TYPE_SYSTEM, "code": "MSSANTE"},
            },
            {"url": MAILBOX_METADATA_URL, "extension": metadata},
        ],
        "system": "email",
        "value": entry.address,
    }
    if entry.preferred:
        point["rank"] = 1
    return point


def _digitization(value: str | None) -> bool | None:
    folded = (value or "").strip().lower()
    if folded in ("o", "oui", "true", "1", "y", "yes"):
        return True
    if folded in ("n", "non", "false", "0", "no"):
        return False
    return None


def parse_contact_point(point: Any) -> MailboxFields:
    """Read a ContactPoint sent to the API. The type is accepted in the three encodings found in
    ANS material: a CodeableConcept/Coding of TRE_R257, one of TRE_R256, or a bare code."""
    if not isinstance(point, dict):
        raise FhirError(400, "structure", "The value must be a ContactPoint object.")
    if point.get("system") not in (None, "email"):
        raise FhirError(422, "value", "An MSSanté mailbox is a ContactPoint with system 'email'.")
    address = point.get("value")
    if not isinstance(address, str) or not address.strip():
        raise FhirError(422, "required", "The ContactPoint must give the mailbox address in value.")
    fields = MailboxFields(address=address.strip().lower(), preferred=point.get("rank") == 1)
    for extension in point.get("extension") or []:
        if not isinstance(extension, dict) or extension.get("url") != MAILBOX_METADATA_URL:
            continue
        for part in extension.get("extension") or []:
            if not isinstance(part, dict):
                continue
            name = part.get("url")
            if name == "type":
                fields.mailbox_type = _mailbox_type_code(part)
            elif name in ("description", "service", "responsible"):
                value = part.get("valueString")
                setattr(fields, name, value.strip() if isinstance(value, str) else None)
            elif name == "listeRouge":
                fields.liste_rouge = part.get("valueBoolean") is True
            elif name == "digitization":
                fields.digitization = part.get("valueBoolean")
    if fields.mailbox_type is not None and fields.mailbox_type not in MAILBOX_TYPES:
        raise FhirError(
            422,
            "code-invalid",
            f"Mailbox type {fields.mailbox_type!r} is unknown: use PER, ORG, APP or CAB.",
        )
    return fields


def _mailbox_type_code(part: dict[str, Any]) -> str | None:
    concept = part.get("valueCodeableConcept")
    codings: list[Any] = []
    if isinstance(concept, dict):
        codings = concept.get("coding") or []
    if isinstance(part.get("valueCoding"), dict):
        codings = [part["valueCoding"]]
    for coding in codings:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return coding["code"].upper()
    for key in ("valueCode", "valueString"):
        if isinstance(part.get(key), str):
            return part[key].upper()
    return None


# --- Resources ----------------------------------------------------------------------------


def practitioner_id(idnps: str) -> str:
    return idnps


def organization_id(entry: DirectoryEntry) -> str:
    return f"{entry.structure_id_type or ''}{entry.structure_id}"


def practitioner_role_id(entry: DirectoryEntry) -> str:
    structure = organization_id(entry) if entry.structure_id else "0"
    return f"{entry.idnps}-{structure}"


def _visible(entries: Iterable[DirectoryEntry]) -> list[DirectoryEntry]:
    return [entry for entry in entries if not entry.liste_rouge]


def practitioner_identifiers(idnps: str, pp_id_type: str | None, pp_id: str | None) -> list:
    identifiers: list[dict[str, Any]] = [
        {
            "use": "official",
            "type": {
                "coding": [
                    {
                        "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                        "code": "IDNPS",
                    }
                ]
            },
            "system": IDNPS_SYSTEM,
            "value": idnps,
        }
    ]
    if pp_id_type == "8" and pp_id:
        identifiers.append({"use": "secondary", "system": RPPS_SYSTEM, "value": pp_id})
    return identifiers


def practitioner_resource(idnps: str, entries: Sequence[DirectoryEntry]) -> dict[str, Any]:
    """A professional with every public PER/CAB mailbox listed for their IDNPS."""
    first = entries[0]
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": practitioner_id(idnps),
        "identifier": practitioner_identifiers(idnps, first.pp_id_type, first.pp_id),
        "active": True,
    }
    name = _human_name(first)
    if name:
        resource["name"] = [name]
    telecom = [
        contact_point(entry) for entry in _visible(entries) if entry.mailbox_type in PERSONAL_TYPES
    ]
    if telecom:
        resource["telecom"] = telecom
    return resource


def _human_name(entry: DirectoryEntry) -> dict[str, Any] | None:
    name: dict[str, Any] = {}
    if entry.last_name:
        name["family"] = entry.last_name
    if entry.first_name:
        name["given"] = [entry.first_name]
    if entry.civility:
        name["prefix"] = [entry.civility]
    return name or None


def practitioner_role_resource(entries: Sequence[DirectoryEntry]) -> dict[str, Any]:
    """A professional's activity in one structure, with the mailboxes tied to it."""
    first = entries[0]
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": practitioner_role_id(first),
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner_id(first.idnps or '')}"},
    }
    if first.structure_id:
        resource["organization"] = {
            "reference": f"Organization/{organization_id(first)}",
            "display": first.structure_name or None,
        }
        if not resource["organization"]["display"]:
            del resource["organization"]["display"]
    if first.profession_code:
        coding = {"system": PROFESSION_SYSTEM, "code": first.profession_code}
        if first.profession_label:
            coding["display"] = first.profession_label
        resource["code"] = [{"coding": [coding]}]
    if first.savoir_faire_code:
        coding = {"system": SAVOIR_FAIRE_SYSTEM, "code": first.savoir_faire_code}
        if first.savoir_faire_label:
            coding["display"] = first.savoir_faire_label
        resource["specialty"] = [{"coding": [coding]}]
    telecom = [contact_point(entry) for entry in _visible(entries)]
    if telecom:
        resource["telecom"] = telecom
    return resource


def organization_identifiers(structure_id_type: str | None, structure_id: str) -> list:
    identifiers: list[dict[str, Any]] = [
        {
            "use": "official",
            "system": IDNST_SYSTEM,
            "value": f"{structure_id_type or ''}{structure_id}",
        }
    ]
    bare = structure_id
    if (
        structure_id_type
        and len(structure_id) in (10, 15)
        and structure_id.startswith(structure_id_type)
    ):
        bare = structure_id[1:]
    if structure_id_type == "1":
        identifiers.append({"use": "secondary", "system": FINESS_SYSTEM, "value": bare})
    elif structure_id_type == "3":
        identifiers.append({"use": "secondary", "system": SIRET_SYSTEM, "value": bare})
        identifiers.append({"use": "secondary", "system": SIREN_SYSTEM, "value": bare[:9]})
    elif structure_id_type == "2":
        identifiers.append({"use": "secondary", "system": SIREN_SYSTEM, "value": bare})
    return identifiers


def organization_resource(entries: Sequence[DirectoryEntry]) -> dict[str, Any]:
    """A structure with its public ORG and APP mailboxes."""
    first = entries[0]
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": organization_id(first),
        "identifier": organization_identifiers(first.structure_id_type, first.structure_id or ""),
        "active": True,
    }
    if first.structure_name:
        resource["name"] = first.structure_name
    if first.structure_trade_name:
        resource["alias"] = [first.structure_trade_name]
    address = _address(first)
    if address:
        resource["address"] = [address]
    telecom = [
        contact_point(entry) for entry in _visible(entries) if entry.mailbox_type in STRUCTURE_TYPES
    ]
    if telecom:
        resource["telecom"] = telecom
    return resource


def _address(entry: DirectoryEntry) -> dict[str, Any] | None:
    street = " ".join(
        part
        for part in (
            entry.address_l4_number,
            entry.address_l4_complement,
            entry.address_l4_street_type,
            entry.address_l4_street,
        )
        if part
    )
    lines = [
        line for line in (entry.address_l2, entry.address_l3, street, entry.address_l5) if line
    ]
    address: dict[str, Any] = {}
    if lines:
        address["line"] = lines
    if entry.postal_code:
        address["postalCode"] = entry.postal_code
    if entry.address_l6:
        city = entry.address_l6
        if entry.postal_code and city.startswith(entry.postal_code):
            city = city[len(entry.postal_code) :].strip()
        address["city"] = city
    if entry.country:
        address["country"] = entry.country
    return address or None


def bundle(
    resources: Sequence[dict[str, Any]],
    *,
    total: int | None,
    base_url: str,
    links: dict[str, str],
) -> dict[str, Any]:
    """A searchset Bundle; without ``total`` when it was not counted (FHIR: the total is
    optional, and then unknown to the client)."""
    body: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        body["total"] = total
    return body | {
        "link": [{"relation": relation, "url": url} for relation, url in links.items()],
        "entry": [
            {
                "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
