"""The directory publisher: provisioning registers and removes its mailboxes here.

It speaks the ANS write API (FHIR Patch by business identifier, ``insert``/``replace``/``delete``
on ``telecom``). The portal's own directory always receives the PATCH, in-process and in the
caller's transaction, so search shows a new mailbox at once. When ``DIRECTORY_FHIR_BASE_URL`` is
set, the same PATCH is also sent over HTTP to that endpoint (the national directory, later).

PER and CAB mailboxes are published on the holder's ``Practitioner`` (IDNPS = "8" + RPPS); ORG
and APP mailboxes on the structure's ``Organization`` (FINESS, or IDNST "3" + SIRET when the
structure has no FINESS). Address and type never change once published; termination removes the
entry.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import requests
from flask import current_app, has_app_context
from sqlmodel import Session, select

from portal.accounts.models import Professional, Structure
from portal.config import Settings
from portal.directory import fhir
from portal.directory.fhir import FhirError
from portal.directory.models import DirectoryEntry, EntrySource
from portal.directory.writes import apply_patch, insert_new_mailbox, practitioner_holder
from portal.identifiers import FINESS_SYSTEM, IDNPS_SYSTEM, IDNST_SYSTEM, SIRET_PREFIX
from portal.subscriptions.models import Mailbox

log = logging.getLogger(__name__)
REMOTE_TIMEOUT_SECONDS = 15


class DirectoryPublishError(Exception):
    """The mailbox cannot be published as it is; retrying will not help (fix the data)."""


class DirectoryUnavailable(Exception):
    """The remote directory did not answer properly; retrying later may succeed."""


def publish_mailbox(
    session: Session, *, mailbox_id: int, settings: Settings | None = None
) -> DirectoryEntry:
    """Record a provisioned mailbox in the directory (source=portal) and return its entry.

    Safe to call twice: a mailbox already published is replaced with the same data.
    """
    mailbox = _mailbox(session, mailbox_id)
    resource_type, identifier, professional = _target(session, mailbox)
    existing = session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address.lower())
    ).first()
    if existing is not None and existing.mailbox_type != mailbox.type:
        raise DirectoryPublishError(
            f"{mailbox.address} is already in the directory as a {existing.mailbox_type} mailbox; "
            "a mailbox's type cannot change."
        )
    point = _contact_point(mailbox, existing)
    if existing is None:
        operation = _operation("insert", f"{resource_type}.telecom", point)
    else:
        operation = _operation("replace", _where(resource_type, mailbox.address), point)
    body = {"resourceType": "Parameters", "parameter": [operation]}
    if existing is None and professional is not None:
        # A new personal mailbox of a professional we know: the same insert as the PATCH, without
        # reading back what we hold already (the holder, the absence of the address) nor
        # building the patched resource.
        try:
            entry = insert_new_mailbox(
                session,
                practitioner_holder(professional),
                point,
                source=EntrySource.PORTAL,
                mailbox_id=mailbox.id,
            )
        except FhirError as error:
            raise DirectoryPublishError(f"{mailbox.address}: {error.message}") from error
        _send_remote(settings, resource_type, identifier, body)
        return entry
    try:
        apply_patch(
            session,
            resource_type=resource_type,
            identifier=identifier,
            body=body,
            source=EntrySource.PORTAL,
            mailbox_id=mailbox.id,
        )
    except FhirError as error:
        raise DirectoryPublishError(f"{mailbox.address}: {error.message}") from error
    entry = session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address.lower())
    ).one()
    if entry.mailbox_id is None:
        entry.mailbox_id = mailbox.id
        session.add(entry)
        session.flush()
    _send_remote(settings, resource_type, identifier, body)
    return entry


def unpublish_mailbox(
    session: Session, *, mailbox_id: int, settings: Settings | None = None
) -> None:
    """Remove a terminated mailbox from the directory (nothing happens if it is not there)."""
    mailbox = _mailbox(session, mailbox_id)
    resource_type, identifier, _ = _target(session, mailbox)
    body = {
        "resourceType": "Parameters",
        "parameter": [_operation("delete", _where(resource_type, mailbox.address), None)],
    }
    try:
        apply_patch(session, resource_type=resource_type, identifier=identifier, body=body)
    except FhirError as error:
        if error.status != 404:
            raise DirectoryPublishError(f"{mailbox.address}: {error.message}") from error
        # The holder is gone from the directory: so is the mailbox. Remove any stray entry.
        entry = session.exec(
            select(DirectoryEntry).where(DirectoryEntry.address == mailbox.address.lower())
        ).first()
        if entry is not None:
            session.delete(entry)
            session.flush()
    _send_remote(settings, resource_type, identifier, body)


def _mailbox(session: Session, mailbox_id: int) -> Mailbox:
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None:
        raise DirectoryPublishError(f"Mailbox {mailbox_id} does not exist.")
    return mailbox


def _target(session: Session, mailbox: Mailbox) -> tuple[str, str, Professional | None]:
    """The resource type and business identifier that carry this mailbox (and the professional
    holding a personal mailbox)."""
    if mailbox.type in fhir.PERSONAL_TYPES:
        professional = (
            session.get(Professional, mailbox.professional_id) if mailbox.professional_id else None
        )
        if professional is None:
            raise DirectoryPublishError(
                f"{mailbox.address} is a {mailbox.type} mailbox without a professional holder."
            )
        return "Practitioner", f"{IDNPS_SYSTEM}|{professional.idnps}", professional
    if mailbox.type in fhir.STRUCTURE_TYPES:
        structure = session.get(Structure, mailbox.structure_id) if mailbox.structure_id else None
        if structure is None:
            raise DirectoryPublishError(
                f"{mailbox.address} is a {mailbox.type} mailbox without a holder structure."
            )
        if structure.finess:
            return "Organization", f"{FINESS_SYSTEM}|{structure.finess}", None
        if structure.siret:
            return "Organization", f"{IDNST_SYSTEM}|{SIRET_PREFIX}{structure.siret}", None
        raise DirectoryPublishError(
            f"Structure {structure.name!r} has neither FINESS nor SIRET: it cannot be published."
        )
    raise DirectoryPublishError(f"{mailbox.address} has the unknown mailbox type {mailbox.type!r}.")


def _contact_point(mailbox: Mailbox, existing: DirectoryEntry | None) -> dict[str, Any]:
    entry = DirectoryEntry(
        address=mailbox.address.lower(),
        mailbox_type=mailbox.type,
        description=mailbox.description if mailbox.type != "PER" else None,
        service=mailbox.service if mailbox.type in fhir.STRUCTURE_TYPES else None,
        responsible=mailbox.responsible if mailbox.type in fhir.STRUCTURE_TYPES else None,
        # A re-publication keeps what the holder chose in the directory.
        liste_rouge=existing.liste_rouge if existing else False,
        preferred=existing.preferred if existing else False,
        dematerialisation=existing.dematerialisation if existing else None,
    )
    if existing is not None and mailbox.type == "PER":
        entry.description = existing.description
    return fhir.contact_point(entry)


def _where(resource_type: str, address: str) -> str:
    return f"{resource_type}.telecom.where(value='{address.lower()}')"


def _operation(kind: str, path: str, value: dict[str, Any] | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "type", "valueCode": kind},
        {"name": "path", "valueString": path},
    ]
    if value is not None:
        parts.append({"name": "value", "valueContactPoint": value})
    return {"name": "operation", "part": parts}


def _settings(settings: Settings | None) -> Settings | None:
    if settings is not None:
        return settings
    if has_app_context():
        return current_app.config.get("PORTAL_SETTINGS")
    return None


def _send_remote(
    settings: Settings | None, resource_type: str, identifier: str, body: dict[str, Any]
) -> None:
    settings = _settings(settings)
    if settings is None or not settings.directory_fhir_base_url:
        return
    url = (
        f"{settings.directory_fhir_base_url.rstrip('/')}/{resource_type}?"
        f"{urlencode({'identifier': identifier})}"
    )
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if settings.directory_fhir_token:
        headers["Authorization"] = f"Bearer {settings.directory_fhir_token}"
    try:
        response = requests.patch(url, json=body, headers=headers, timeout=REMOTE_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise DirectoryUnavailable(f"The directory at {url} did not answer: {error}") from error
    if response.status_code >= 500 or response.status_code == 429:
        raise DirectoryUnavailable(
            f"The directory at {url} answered {response.status_code}; try again later."
        )
    if response.status_code >= 400:
        raise DirectoryPublishError(
            f"The directory at {url} refused the change ({response.status_code}): "
            f"{_diagnostics(response)}"
        )
    log.info("directory PATCH sent", extra={"url": url, "status": response.status_code})


def _diagnostics(response: requests.Response) -> str:
    try:
        issues = response.json().get("issue") or []
    except ValueError:
        return response.text[:200]
    return "; ".join(str(issue.get("diagnostics") or issue.get("code")) for issue in issues)
