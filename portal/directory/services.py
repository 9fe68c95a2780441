"""What a signed-in professional may change on their own directory entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlmodel import Session

from portal.audit import record_audit
from portal.db import utcnow
from portal.directory.models import DirectoryEntry
from portal.directory.writes import entries_of_professional


@dataclass
class PreferenceResult:
    errors: list[str] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)


def set_preferences(
    session: Session,
    *,
    idnps: str,
    preferred_address: str | None,
    liste_rouge_addresses: set[str],
    actor_account_id: int | None,
    ip_address: str | None = None,
) -> PreferenceResult:
    """Mark one of the professional's addresses preferred (FHIR rank 1) and choose which stay out
    of public listings. Only addresses listed for ``idnps`` can change; the change is audited.
    The caller commits."""
    result = PreferenceResult()
    entries = entries_of_professional(session, idnps)
    own = {entry.address: entry for entry in entries}
    unknown = ({preferred_address} if preferred_address else set()) | liste_rouge_addresses
    unknown -= set(own)
    if unknown:
        result.errors.append(
            _(
                "Ces adresses ne sont pas les vôtres dans l’annuaire : %(addresses)s. Rechargez la page et réessayez.",
                addresses=", ".join(sorted(unknown)),
            )
        )
        return result
    if preferred_address and preferred_address in liste_rouge_addresses:
        result.errors.append(
            _(
                "Votre adresse préférée ne peut pas être en liste rouge : les autres professionnels ne la verraient pas. Choisissez une autre adresse préférée ou retirez-la de la liste rouge."
            )
        )
        return result
    for entry in entries:
        preferred = entry.address == preferred_address
        liste_rouge = entry.address in liste_rouge_addresses
        if (entry.preferred, entry.liste_rouge) == (preferred, liste_rouge):
            continue
        result.changes.append(
            {
                "address": entry.address,
                "preferred": [entry.preferred, preferred],
                "liste_rouge": [entry.liste_rouge, liste_rouge],
            }
        )
        entry.preferred = preferred
        entry.liste_rouge = liste_rouge
        entry.updated_at = utcnow()
        session.add(entry)
    if result.changes:
        record_audit(
            session,
            action="directory_preferences",
            actor_account_id=actor_account_id,
            target_type="professional",
            target_id=idnps,
            ip_address=ip_address,
            details={"changes": result.changes},
        )
        session.flush()
    return result


def preferred_entry(entries: list[DirectoryEntry]) -> DirectoryEntry | None:
    return next((entry for entry in entries if entry.preferred), None)
