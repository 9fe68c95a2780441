"""How roles and their scopes are named to people."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from portal.accounts.models import Membership, Role, Structure
from portal.catalogue.models import Operator, Region

ROLE_LABELS = {
    Role.PLATFORM_ADMIN: _l("Administrateur·rice de la plateforme"),
    Role.REGION_ADMIN: _l("Administrateur·rice régional·e"),
    Role.OPERATOR_ADMIN: _l("Administrateur·rice d’opérateur"),
    Role.STRUCTURE_MANAGER: _l("Gestionnaire de structure"),
}

# Which scope each role needs (the key of AccountToken.scope and the Membership column).
ROLE_SCOPES = {
    Role.PLATFORM_ADMIN: None,
    Role.REGION_ADMIN: "region_code",
    Role.OPERATOR_ADMIN: "operator_id",
    Role.STRUCTURE_MANAGER: "structure_id",
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def scope_label(session: Session, scope: dict | Membership) -> str:
    """The region, operator or structure a role applies to, by name ("" for the platform)."""
    values = (
        {
            "region_code": scope.region_code,
            "operator_id": scope.operator_id,
            "structure_id": scope.structure_id,
        }
        if isinstance(scope, Membership)
        else scope
    )
    if values.get("region_code"):
        region = session.get(Region, values["region_code"])
        return region.name if region else str(values["region_code"])
    if values.get("operator_id"):
        operator = session.get(Operator, int(values["operator_id"]))
        return operator.name if operator else str(values["operator_id"])
    if values.get("structure_id"):
        structure = session.get(Structure, int(values["structure_id"]))
        return structure.name if structure else str(values["structure_id"])
    return ""
