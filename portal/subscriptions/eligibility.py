"""Who may subscribe to which offer, with the reasons in plain words. One place only."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Activity, Professional, Structure
from portal.catalogue.models import Department, Offer, OfferStatus, Region
from portal.directory.views import PROFESSION_LABELS
from portal.subscriptions.models import Order, OrderLine, OrderState

# Orders that hold (or will hold) a mailbox: they count against "one mailbox per professional".
LIVE_STATES = tuple(
    state
    for state in OrderState
    if state
    not in (OrderState.DRAFT, OrderState.REJECTED, OrderState.CANCELLED, OrderState.REFUNDED,
            OrderState.TERMINATED)
)  # fmt: skip


@dataclass
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)
    department_codes: set[str] = field(default_factory=set)


def practice_departments(session: Session, professional: Professional) -> set[str]:
    """Départements where the professional practises (structures of their PSC activities)."""
    rows = session.exec(
        select(Structure.department_code)
        .join(Activity, Activity.structure_id == Structure.id)
        .where(Activity.professional_id == professional.id)
    )
    return {code for code in rows if code}


def check_eligibility(
    session: Session,
    offer: Offer,
    professional: Professional | None,
    *,
    replaces_order_id: int | None = None,
) -> Eligibility:
    """Whether ``professional`` may order a personal mailbox of ``offer``, and why not."""
    reasons: list[str] = []
    if offer.status != OfferStatus.PUBLISHED:
        reasons.append(_("Cette offre n'est plus proposée : choisissez une autre offre."))
    if "PER" not in (offer.mailbox_types or []):
        reasons.append(
            _(
                "Cette offre ne propose que des boîtes organisationnelles ou applicatives, "
                "commandées par les structures : elle ne donne pas de boîte personnelle."
            )
        )
    if professional is None:
        reasons.append(
            _(
                "Une boîte personnelle est réservée aux professionnels de santé : connectez-vous "
                "avec Pro Santé Connect (carte CPS ou e-CPS)."
            )
        )
        return Eligibility(False, reasons)
    departments = practice_departments(session, professional)
    if offer.professions and professional.profession_code not in offer.professions:
        allowed = ", ".join(
            str(PROFESSION_LABELS.get(code, code)).lower() for code in offer.professions
        )
        reasons.append(
            _(
                "Cette offre est réservée aux professions suivantes : %(allowed)s. "
                "Votre profession n'en fait pas partie.",
                allowed=allowed,
            )
        )
    if not offer.coverage_national and not _covers(session, offer, departments):
        reasons.append(
            _(
                "Cette offre n'est proposée que sur son territoire (%(territory)s), et nous ne "
                "trouvons pas de lieu d'exercice à vous sur ce territoire.",
                territory=_territory(session, offer),
            )
        )
    if offer.max_per_professional:
        existing = _existing_orders(session, offer, professional, replaces_order_id)
        if existing >= offer.max_per_professional:
            reasons.append(
                _(
                    "Vous avez déjà une boîte %(offer)s : cette offre en permet une seule par "
                    "professionnel. Retrouvez-la dans « Mes boîtes et commandes ».",
                    offer=offer.name,
                )
            )
    return Eligibility(not reasons, reasons, departments)


def _covers(session: Session, offer: Offer, departments: set[str]) -> bool:
    if set(offer.coverage_departments or []) & departments:
        return True
    if offer.coverage_regions and departments:
        regions = set(
            session.exec(select(Department.region_code).where(Department.code.in_(departments)))
        )
        return bool(regions & set(offer.coverage_regions))
    return False


def _territory(session: Session, offer: Offer) -> str:
    names = [
        region.name
        for region in session.exec(
            select(Region).where(Region.code.in_(offer.coverage_regions or [""]))
        )
    ]
    names += [
        department.name
        for department in session.exec(
            select(Department).where(Department.code.in_(offer.coverage_departments or [""]))
        )
    ]
    return ", ".join(sorted(names)) or "—"


def _existing_orders(
    session: Session, offer: Offer, professional: Professional, replaces_order_id: int | None
) -> int:
    from portal.catalogue.models import OfferRevision

    query = (
        select(Order.id)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .where(
            OfferRevision.offer_id == offer.id,
            Order.professional_id == professional.id,
            Order.state.in_(LIVE_STATES),
        )
    )
    ids = [order_id for order_id in session.exec(query) if order_id != replaces_order_id]
    return len(ids)


__all__ = ["Eligibility", "OrderLine", "check_eligibility", "practice_departments"]
