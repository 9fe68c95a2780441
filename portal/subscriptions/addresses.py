"""MSSanté addresses: proposals from the professional's names, validation, availability."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Professional
from portal.catalogue.models import Operator
from portal.directory.models import DirectoryEntry
from portal.provisioning import registry
from portal.provisioning.interfaces import PermanentProvisioningError, TransientProvisioningError
from portal.subscriptions.models import Mailbox, OrderLine

log = logging.getLogger(__name__)
LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
MAX_LOCAL = 64
MAX_ADDRESS = 254
# Mailiz gives each profession its own domain; other operators have one or a few domains.
PROFESSION_DOMAINS = {
    "10": "medecin",
    "21": "pharmacien",
    "40": "chirurgien-dentiste",
    "50": "sage-femme",
    "60": "infirmier",
    "70": "masseur-kinesitherapeute",
    "80": "pedicure-podologue",
}


@dataclass
class AddressCheck:
    address: str
    available: bool
    message: str
    checked_with_operator: bool = True


def fold(text: str) -> str:
    """Lower case, accents removed, spaces and apostrophes made hyphens, nothing else kept."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"['’\s]+", "-", text.strip())
    text = re.sub(r"[^a-z0-9-]", "", text)
    return re.sub(r"-{2,}", "-", text).strip("-")


def default_domain(operator: Operator, professional: Professional | None) -> str | None:
    domains = list(operator.mail_domains or [])
    if professional is not None and professional.profession_code in PROFESSION_DOMAINS:
        word = PROFESSION_DOMAINS[professional.profession_code]
        for domain in domains:
            if domain.split(".", 1)[0] == word:
                return domain
    return domains[0] if domains else None


def taken(session: Session, address: str) -> bool:
    """Already in the directory, or already given to a mailbox or a pending order."""
    from portal.subscriptions.eligibility import LIVE_STATES
    from portal.subscriptions.models import Order

    address = address.lower()
    if any(
        session.exec(select(model.id).where(column == address)).first() is not None
        for model, column in (
            (DirectoryEntry, DirectoryEntry.address),
            (Mailbox, Mailbox.address),
        )
    ):
        return True
    ordered = session.exec(
        select(OrderLine.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.address == address, Order.state.in_(LIVE_STATES))
    ).first()
    return ordered is not None


def proposals(
    session: Session, professional: Professional, domain: str, count: int = 3
) -> list[str]:
    """Free addresses built from the names: prenom.nom, p.nom, nom.prenom; homonyms numbered."""
    first, last = fold(professional.first_name), fold(professional.last_name)
    if not first or not last:
        return []
    bases = [f"{first}.{last}", f"{first[0]}.{last}", f"{last}.{first}"]
    found: list[str] = []
    for base in bases:
        base = base[: MAX_LOCAL - 2]
        for number in range(1, 50):
            local = base if number == 1 else f"{base}{number}"
            address = f"{local}@{domain}"
            if not taken(session, address):
                if address not in found:
                    found.append(address)
                break
        if len(found) >= count:
            break
    return found


def local_part_problem(local: str) -> str | None:
    if not local:
        return _("Saisissez la partie de l'adresse avant le @.")
    if len(local) > MAX_LOCAL:
        return _(
            "La partie avant le @ est trop longue : %(max)s caractères au plus.", max=MAX_LOCAL
        )
    if not LOCAL_PART.match(local):
        return _(
            "Utilisez seulement des lettres minuscules sans accent, des chiffres, des points, "
            "des tirets ou des tirets bas, sans les mettre au début ni à la fin."
        )
    return None


def check_address(session: Session, operator: Operator, local: str, domain: str) -> AddressCheck:
    """Whether ``local@domain`` can be ordered, with a sentence the person can act on."""
    local = (local or "").strip().lower()
    address = f"{local}@{domain}"
    problem = local_part_problem(local)
    if problem:
        return AddressCheck(address, False, problem)
    if domain not in (operator.mail_domains or []):
        return AddressCheck(
            address,
            False,
            _(
                "Choisissez un domaine de l'opérateur : %(domains)s.",
                domains=", ".join(operator.mail_domains or []),
            ),
        )
    if len(address) > MAX_ADDRESS:
        return AddressCheck(address, False, _("L'adresse est trop longue."))
    if taken(session, address):
        return AddressCheck(
            address, False, _("Cette adresse est déjà prise : choisissez-en une autre.")
        )
    try:
        adapter = registry.adapter_for(
            operator, session=session, settings=current_app.config["PORTAL_SETTINGS"]
        )
        remote = adapter.check_address(address)
    except (TransientProvisioningError, PermanentProvisioningError) as error:
        log.info("address not checked with the operator", extra={"error": str(error)})
        return AddressCheck(
            address,
            True,
            _(
                "Adresse libre dans l'annuaire. L'opérateur n'a pas pu la vérifier pour "
                "l'instant : il la confirmera à la création."
            ),
            checked_with_operator=False,
        )
    if not remote.available:
        return AddressCheck(
            address, False, _("L'opérateur n'accepte pas cette adresse : choisissez-en une autre.")
        )
    return AddressCheck(address, True, _("Cette adresse est disponible."))
