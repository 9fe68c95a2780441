"""The directory write API: FHIR PATCH (``Parameters``) by business identifier.

``PATCH [base]/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1|8…`` or
``PATCH [base]/Organization?identifier=https://finess.esante.gouv.fr|…`` with operations
``insert`` (a new mailbox in ``telecom``), ``replace`` (its editable metadata) and ``delete``.
404 when no resource has the identifier, 412 when several do. Address and type never change
after creation. The operations of one request apply together or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, update
from sqlmodel import Session, select

from portal.accounts.models import Professional, Structure
from portal.db import utcnow
from portal.directory import fhir
from portal.directory.fhir import FhirError, MailboxFields
from portal.directory.indexing import add_terms, index_values, typo_terms
from portal.directory.models import DirectoryEntry, EntrySource, valid_address
from portal.identifiers import (
    FINESS_SYSTEM,
    IDNPS_SYSTEM,
    IDNST_SYSTEM,
    RPPS_SYSTEM,
    SIREN_SYSTEM,
)

RESOURCE_TYPES = ("Practitioner", "Organization")
_WHERE_VALUE = re.compile(
    r"^(?P<resource>\w+)\.telecom\.where\(value\s*=\s*'(?P<address>[^']+)'\)$"
)
_FIELD_LIMITS = {"description": 300, "service": 200, "responsible": 200}
_HOLDER_COLUMNS = (
    "pp_id_type",
    "pp_id",
    "idnps",
    "structure_id_type",
    "structure_id",
    "civility",
    "last_name",
    "first_name",
    "category_code",
    "category_label",
    "profession_code",
    "profession_label",
    "savoir_faire_code",
    "savoir_faire_label",
    "structure_name",
    "structure_trade_name",
    "address_l2",
    "address_l3",
    "address_l4_number",
    "address_l4_complement",
    "address_l4_street_type",
    "address_l4_street",
    "address_l5",
    "address_l6",
    "postal_code",
    "department",
    "country",
)


@dataclass
class Holder:
    """The resource a PATCH addresses: who the new mailboxes will belong to."""

    resource_type: str
    values: dict[str, Any]  # holder columns copied into new entries

    @property
    def key_condition(self):
        if self.resource_type == "Practitioner":
            return DirectoryEntry.idnps == self.values["idnps"]
        return (DirectoryEntry.structure_id == self.values["structure_id"]) & (
            DirectoryEntry.structure_id_type == self.values["structure_id_type"]
        )


@dataclass
class Operation:
    type: str
    path: str
    value: Any = None


def split_identifier(identifier: str | None) -> tuple[str | None, str]:
    if not identifier or not identifier.strip():
        raise FhirError(
            400, "required", "Give the resource's business identifier: ?identifier=system|value."
        )
    system, separator, value = identifier.strip().rpartition("|")
    if not separator:
        return None, value
    return (system or None), value.strip()


def resolve_holder(session: Session, resource_type: str, identifier: str | None) -> Holder:
    """Find the one professional or structure an identifier names (404 none, 412 several)."""
    if resource_type not in RESOURCE_TYPES:
        raise FhirError(
            404, "not-supported", f"PATCH by identifier works on {' and '.join(RESOURCE_TYPES)}."
        )
    system, value = split_identifier(identifier)
    if resource_type == "Practitioner":
        return _resolve_practitioner(session, system, value)
    return _resolve_organization(session, system, value)


def _resolve_practitioner(session: Session, system: str | None, value: str) -> Holder:
    if system == RPPS_SYSTEM or (system is None and len(value) == 11):
        idnps = "8" + value
    elif system in (IDNPS_SYSTEM, None):
        idnps = value
    else:
        raise FhirError(
            400,
            "value",
            f"Practitioners are identified by IDNPS ({IDNPS_SYSTEM}) or RPPS ({RPPS_SYSTEM}).",
        )
    professional = session.exec(select(Professional).where(Professional.idnps == idnps)).first()
    if professional is not None:
        return practitioner_holder(professional)
    entry = session.exec(
        select(DirectoryEntry)
        .where(DirectoryEntry.idnps == idnps)
        .order_by(DirectoryEntry.id)
        .limit(1)
    ).first()
    if entry is None:
        raise FhirError(404, "not-found", f"No practitioner has the identifier {value!r}.")
    values = {column: getattr(entry, column) for column in _HOLDER_COLUMNS}
    for column in ("structure_id_type", "structure_id", "structure_name", "structure_trade_name"):
        values[column] = None
    return Holder("Practitioner", values)


def practitioner_holder(professional: Professional) -> Holder:
    """The Practitioner a professional known to the portal is in the directory."""
    return Holder(
        "Practitioner",
        {
            "idnps": professional.idnps,
            "pp_id_type": professional.idnps[:1],
            "pp_id": professional.rpps or professional.idnps[1:],
            "civility": professional.civility,
            "last_name": professional.last_name,
            "first_name": professional.first_name,
            "profession_code": professional.profession_code,
            "category_code": professional.category_code,
            "savoir_faire_code": professional.savoir_faire_code,
        },
    )


def _structure_values(structure: Structure, id_type: str, structure_id: str) -> dict[str, Any]:
    city_line = " ".join(
        part for part in (structure.postal_code, (structure.city or "").upper()) if part
    )
    return {
        "structure_id_type": id_type,
        "structure_id": structure_id,
        "structure_name": structure.name,
        "structure_trade_name": structure.trade_name,
        "address_l4_street": structure.address_line,
        "address_l6": city_line or None,
        "postal_code": structure.postal_code,
        "department": structure.department_code,
    }


def _resolve_organization(session: Session, system: str | None, value: str) -> Holder:
    value = value.upper()
    if system == IDNST_SYSTEM and value[:1] in ("1", "3"):
        system, value = (FINESS_SYSTEM if value[0] == "1" else fhir.SIRET_SYSTEM), value[1:]
    if system in (FINESS_SYSTEM, None) and len(value) == 9 and system != SIREN_SYSTEM:
        id_type, column = "1", Structure.finess
    elif system in (fhir.SIRET_SYSTEM, None) and len(value) == 14:
        id_type, column = "3", Structure.siret
    elif system == SIREN_SYSTEM:
        id_type, column = "3", Structure.siren
    else:
        raise FhirError(
            400,
            "value",
            f"Organizations are identified by FINESS ({FINESS_SYSTEM}), IDNST ({IDNST_SYSTEM}), "
            f"SIRET ({fhir.SIRET_SYSTEM}) or SIREN ({SIREN_SYSTEM}).",
        )
    structures = session.exec(select(Structure).where(column == value)).all()
    if len(structures) > 1:
        raise FhirError(
            412, "multiple-matches", f"Several organizations have the identifier {value!r}."
        )
    if structures:
        structure = structures[0]
        own_id = structure.finess if id_type == "1" else structure.siret
        return Holder("Organization", _structure_values(structure, id_type, own_id or value))
    if system == SIREN_SYSTEM:
        condition = (
            DirectoryEntry.structure_id_type == "3"
        ) & DirectoryEntry.structure_id.startswith(value)
    else:
        condition = (DirectoryEntry.structure_id_type == id_type) & DirectoryEntry.structure_id.in_(
            [value, id_type + value]
        )
    keys = session.exec(
        select(DirectoryEntry.structure_id_type, DirectoryEntry.structure_id)
        .where(condition)
        .distinct()
        .limit(2)
    ).all()
    if not keys:
        raise FhirError(404, "not-found", f"No organization has the identifier {value!r}.")
    if len(keys) > 1:
        raise FhirError(
            412, "multiple-matches", f"Several organizations have the identifier {value!r}."
        )
    entry = session.exec(
        select(DirectoryEntry)
        .where(
            DirectoryEntry.structure_id_type == keys[0][0],
            DirectoryEntry.structure_id == keys[0][1],
        )
        .order_by(DirectoryEntry.id)
        .limit(1)
    ).one()
    return Holder(
        "Organization",
        {
            column: getattr(entry, column)
            for column in _HOLDER_COLUMNS
            if column.startswith(("structure", "address", "postal", "department", "country"))
        },
    )


def parse_operations(body: Any) -> list[Operation]:
    """Read a FHIR Patch ``Parameters`` body; anything malformed is a 400 OperationOutcome."""
    from fhir.resources.R4B.parameters import Parameters

    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise FhirError(
            400, "structure", "The PATCH body must be a FHIR Parameters resource (JSON)."
        )
    try:
        Parameters.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FhirError(
            400, "structure", f"The Parameters resource is not valid FHIR: {where}: {first['msg']}."
        ) from error
    operations = []
    for parameter in body.get("parameter") or []:
        if parameter.get("name") != "operation":
            raise FhirError(
                400, "structure", "Every parameter of a FHIR Patch must be named 'operation'."
            )
        parts = {part.get("name"): part for part in parameter.get("part") or []}
        kind = (parts.get("type") or {}).get("valueCode")
        path = (parts.get("path") or {}).get("valueString")
        if kind not in ("insert", "add", "replace", "delete") or not path:
            raise FhirError(
                400,
                "structure",
                "Each operation needs a type (insert, replace or delete) and a path.",
            )
        value = (parts.get("value") or {}).get("valueContactPoint")
        if kind != "delete" and value is None:
            raise FhirError(
                400, "structure", f"The {kind} operation needs a valueContactPoint value."
            )
        operations.append(
            Operation(type="insert" if kind == "add" else kind, path=path, value=value)
        )
    if not operations:
        raise FhirError(400, "structure", "The Parameters resource holds no operation.")
    return operations


def apply_patch(
    session: Session,
    *,
    resource_type: str,
    identifier: str | None,
    body: Any,
    source: str = EntrySource.PORTAL,
    mailbox_id: int | None = None,
) -> dict[str, Any]:
    """Apply a FHIR Patch to the resource ``identifier`` names; return the patched resource.

    All operations apply in one savepoint: on any error nothing changes and :class:`FhirError`
    says why. The caller commits.
    """
    operations = parse_operations(body)
    holder = resolve_holder(session, resource_type, identifier)
    savepoint = session.begin_nested()
    try:
        for operation in operations:
            _apply(session, holder, operation, source=source, mailbox_id=mailbox_id)
        session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return holder_resource(session, holder)


def insert_new_mailbox(
    session: Session,
    holder: Holder,
    point: dict[str, Any],
    *,
    source: str = EntrySource.PORTAL,
    mailbox_id: int | None = None,
) -> DirectoryEntry:
    """Add a mailbox to ``holder``'s telecom, as an ``insert`` PATCH of ``point`` would, and
    return its entry; for a caller (the directory publisher) that builds ``point`` itself and
    has just checked that no entry has this address in its transaction.

    Every check happens before anything is written: on :class:`FhirError` nothing changed.
    """
    return _insert(
        session, holder, fhir.parse_contact_point(point), source, mailbox_id, checked_new=True
    )


def holder_resource(session: Session, holder: Holder) -> dict[str, Any]:
    entries = session.exec(
        select(DirectoryEntry).where(holder.key_condition).order_by(DirectoryEntry.id)
    ).all()
    if holder.resource_type == "Practitioner":
        personal = [entry for entry in entries if entry.mailbox_type in fhir.PERSONAL_TYPES]
        if not personal:
            dummy = DirectoryEntry(address="", mailbox_type="PER", **holder.values)
            return fhir.practitioner_resource(holder.values["idnps"], [dummy])
        return fhir.practitioner_resource(holder.values["idnps"], personal)
    if not entries:
        entries = [DirectoryEntry(address="", mailbox_type="ORG", **holder.values)]
    return fhir.organization_resource(entries)


def _target_address(holder: Holder, path: str) -> str:
    match = _WHERE_VALUE.match(path.strip())
    if match is None or match["resource"] != holder.resource_type:
        raise FhirError(
            400,
            "structure",
            f"The path must be {holder.resource_type}.telecom.where(value='address') for this "
            "operation.",
        )
    return match["address"].strip().lower()


def _apply(
    session: Session, holder: Holder, operation: Operation, *, source: str, mailbox_id: int | None
) -> None:
    if operation.type == "insert":
        if operation.path.strip() != f"{holder.resource_type}.telecom":
            raise FhirError(
                400, "structure", f"An insert must have the path {holder.resource_type}.telecom."
            )
        _insert(session, holder, fhir.parse_contact_point(operation.value), source, mailbox_id)
        return
    address = _target_address(holder, operation.path)
    entry = session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == address, holder.key_condition)
    ).first()
    if operation.type == "delete":
        if entry is not None:
            session.delete(entry)
            session.flush()
        return
    if entry is None:
        raise FhirError(
            422,
            "not-found",
            f"The mailbox {address} is not in this {holder.resource_type}'s telecom.",
        )
    _replace(session, holder, entry, fhir.parse_contact_point(operation.value))


def _check_lengths(fields: MailboxFields) -> None:
    for name, limit in _FIELD_LIMITS.items():
        value = getattr(fields, name)
        if value and len(value) > limit:
            raise FhirError(422, "value", f"The {name} is longer than {limit} characters.")


def _check_type_fits(holder: Holder, mailbox_type: str) -> None:
    expected = (
        fhir.PERSONAL_TYPES if holder.resource_type == "Practitioner" else fhir.STRUCTURE_TYPES
    )
    if mailbox_type not in expected:
        raise FhirError(
            422,
            "business-rule",
            f"A {mailbox_type} mailbox cannot be carried by a {holder.resource_type}: "
            f"use {' or '.join(sorted(expected))}.",
        )


def _insert(
    session: Session,
    holder: Holder,
    fields: MailboxFields,
    source: str,
    mailbox_id: int | None,
    *,
    checked_new: bool = False,
) -> DirectoryEntry:
    if fields.mailbox_type is None:
        raise FhirError(
            422, "required", "A new mailbox needs its type in the mailbox metadata extension."
        )
    _check_type_fits(holder, fields.mailbox_type)
    if not valid_address(fields.address):
        raise FhirError(
            422,
            "value",
            f"{fields.address} is not an MSSanté address (name@domain.mssante.fr).",
        )
    _check_lengths(fields)
    existing = (
        None
        if checked_new
        else session.exec(
            select(DirectoryEntry.id).where(DirectoryEntry.address == fields.address)
        ).first()
    )
    if existing is not None:
        raise FhirError(
            422,
            "duplicate",
            f"The mailbox {fields.address} is already in the directory; its address and type "
            "cannot change (use replace to change its metadata).",
        )
    values = dict(holder.values)
    values.update(
        address=fields.address,
        mailbox_type=fields.mailbox_type,
        description=fields.description,
        service=fields.service if fields.mailbox_type != "PER" else None,
        responsible=fields.responsible if fields.mailbox_type in fhir.STRUCTURE_TYPES else None,
        liste_rouge=fields.liste_rouge,
        preferred=fields.preferred,
    )
    if fields.digitization is not None:
        values["dematerialisation"] = "O" if fields.digitization else "N"
    index_values(values)
    entry = DirectoryEntry(**values, source=source, mailbox_id=mailbox_id)
    session.add(entry)
    session.flush()
    if fields.preferred:
        _clear_other_preferred(session, entry)
    add_terms(session, typo_terms(values))
    return entry


def _replace(
    session: Session, holder: Holder, entry: DirectoryEntry, fields: MailboxFields
) -> None:
    if fields.address != entry.address:
        raise FhirError(422, "business-rule", "A mailbox's address cannot change after creation.")
    if fields.mailbox_type is not None and fields.mailbox_type != entry.mailbox_type:
        raise FhirError(422, "business-rule", "A mailbox's type cannot change after creation.")
    _check_lengths(fields)
    editable = fhir.EDITABLE_BY_TYPE[entry.mailbox_type]
    for name in ("description", "service", "responsible"):
        new = getattr(fields, name)
        if new == getattr(entry, name) or (not new and not getattr(entry, name)):
            continue
        if name not in editable:
            raise FhirError(
                422,
                "business-rule",
                f"The {name} of a {entry.mailbox_type} mailbox cannot be changed.",
            )
        setattr(entry, name, new or None)
    entry.liste_rouge = fields.liste_rouge
    entry.preferred = fields.preferred
    values = {column: getattr(entry, column) for column in DirectoryEntry.model_fields}
    index_values(values)
    entry.search_text = values["search_text"]
    entry.search_prefixes = values["search_prefixes"]
    entry.updated_at = utcnow()
    session.add(entry)
    session.flush()
    if entry.preferred:
        _clear_other_preferred(session, entry)


def _clear_other_preferred(session: Session, entry: DirectoryEntry) -> None:
    """One preferred address per professional (or structure): the newest choice wins."""
    if entry.mailbox_type in fhir.PERSONAL_TYPES and entry.idnps:
        same_holder = DirectoryEntry.idnps == entry.idnps
    else:
        same_holder = DirectoryEntry.holder_key == entry.holder_key
    session.execute(
        update(DirectoryEntry)
        .where(same_holder, DirectoryEntry.id != entry.id, DirectoryEntry.preferred.is_(True))
        .values(preferred=False, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def entries_of_professional(session: Session, idnps: str) -> list[DirectoryEntry]:
    """Every entry listed for an IDNPS, liste rouge included (for the professional only)."""
    return list(
        session.exec(
            select(DirectoryEntry)
            .where(
                DirectoryEntry.idnps == idnps,
                or_(DirectoryEntry.mailbox_type == "PER", DirectoryEntry.mailbox_type == "CAB"),
            )
            .order_by(DirectoryEntry.address)
        ).all()
    )
