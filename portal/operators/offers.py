"""Offer terms edited as a draft and published as a new, immutable revision.

A revision that was never published and is not the offer's current one is its draft: nobody can have accepted it,
so the operator may change it freely. Publishing stamps it and makes it the offer's current
revision; from then on it never changes, and orders and subscriptions that point at an
earlier revision keep the terms their holder accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.audit import record_audit
from portal.catalogue.index import forget_index
from portal.catalogue.models import (
    REVISION_TERM_FIELDS,
    BillingPeriod,
    ComparisonAttribute,
    Offer,
    OfferRevision,
    OfferStatus,
)
from portal.db import utcnow


class OfferEditError(Exception):
    """A change the offer's state does not allow; the message is for the user."""


def draft_of(session: Session, offer: Offer) -> OfferRevision | None:
    """The revision being prepared: never published and not the one in force.

    (A revision in force is immutable even if an import left its publication date empty.)
    """
    query = select(OfferRevision).where(
        OfferRevision.offer_id == offer.id, OfferRevision.published_at.is_(None)
    )
    if offer.current_revision_id is not None:
        query = query.where(OfferRevision.id != offer.current_revision_id)
    return session.exec(query.order_by(OfferRevision.number.desc())).first()


def revisions_of(session: Session, offer: Offer) -> list[OfferRevision]:
    return list(
        session.exec(
            select(OfferRevision)
            .where(OfferRevision.offer_id == offer.id)
            .order_by(OfferRevision.number.desc())
        ).all()
    )


def start_draft(*, session: Session, offer: Offer, actor_id: int | None) -> OfferRevision:
    """The offer's draft, created from its current terms if there is none yet."""
    draft = draft_of(session, offer)
    if draft is not None:
        return draft
    current = (
        session.get(OfferRevision, offer.current_revision_id) if offer.current_revision_id else None
    )
    number = (
        session.execute(
            select(sa.func.max(OfferRevision.number)).where(OfferRevision.offer_id == offer.id)
        ).scalar_one()
        or 0
    ) + 1
    values = (
        {name: _copy(getattr(current, name)) for name in REVISION_TERM_FIELDS} if current else {}
    )
    draft = OfferRevision(offer_id=offer.id, number=number, **values)
    session.add(draft)
    session.flush()
    record_audit(
        session,
        action="offer_draft_started",
        actor_account_id=actor_id,
        target_type="offer",
        target_id=offer.id,
        details={"revision": number},
    )
    return draft


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def save_draft(
    *, session: Session, offer: Offer, terms: dict, actor_id: int | None
) -> OfferRevision:
    """Write validated ``terms`` (see :class:`TermsInput`) into the offer's draft."""
    draft = start_draft(session=session, offer=offer, actor_id=actor_id)
    for name, value in terms.items():
        if name not in REVISION_TERM_FIELDS:
            raise ValueError(f"not a term of an offer: {name}")
        setattr(draft, name, value)
    session.add(draft)
    session.flush()
    return draft


def publish_draft(*, session: Session, offer: Offer, actor_id: int | None) -> OfferRevision:
    """Make the draft the offer's current, immutable revision and publish the offer."""
    draft = draft_of(session, offer)
    if draft is None:
        raise OfferEditError(_("Cette offre n’a pas de brouillon à publier."))
    now = utcnow()
    draft.published_at = now
    offer.current_revision_id = draft.id
    offer.status = OfferStatus.PUBLISHED
    offer.updated_at = now  # moves the catalogue's version: every process rebuilds its index
    session.add_all([draft, offer])
    record_audit(
        session,
        action="offer_revision_published",
        actor_account_id=actor_id,
        target_type="offer",
        target_id=offer.id,
        details={"revision": draft.number},
    )
    session.flush()
    forget_index(current_app)
    return draft


def discard_draft(*, session: Session, offer: Offer, actor_id: int | None) -> None:
    draft = draft_of(session, offer)
    if draft is None:
        return
    session.delete(draft)
    record_audit(
        session,
        action="offer_draft_discarded",
        actor_account_id=actor_id,
        target_type="offer",
        target_id=offer.id,
        details={"revision": draft.number},
    )
    session.flush()


def withdraw_offer(*, session: Session, offer: Offer, actor_id: int | None) -> None:
    """Take the offer out of the catalogue; existing subscriptions are not touched."""
    if offer.status != OfferStatus.PUBLISHED:
        raise OfferEditError(_("Seule une offre publiée peut être retirée du catalogue."))
    offer.status = OfferStatus.WITHDRAWN
    offer.updated_at = utcnow()
    session.add(offer)
    record_audit(
        session,
        action="offer_withdrawn",
        actor_account_id=actor_id,
        target_type="offer",
        target_id=offer.id,
    )
    session.flush()
    forget_index(current_app)


# ---------------------------------------------------------------- reading the form


@dataclass
class FeatureField:
    """One comparison attribute the operator states a value for, as the form shows it."""

    attribute: ComparisonAttribute
    name: str  # form field name
    kind: str  # boolean | integer | text | localized_text | choices | lines


def feature_fields(session: Session) -> list[FeatureField]:
    attributes = session.exec(
        select(ComparisonAttribute)
        .where(ComparisonAttribute.source == "features")
        .order_by(ComparisonAttribute.group, ComparisonAttribute.position, ComparisonAttribute.key)
    ).all()
    fields = []
    for attribute in attributes:
        if attribute.type == "boolean":
            kind = "boolean"
        elif attribute.type == "integer":
            kind = "integer"
        elif attribute.type == "list":
            kind = "choices" if attribute.options else "lines"
        else:
            kind = "localized_text" if attribute.localized else "text"
        fields.append(FeatureField(attribute, f"feature-{attribute.key}", kind))
    return fields


@dataclass
class TermsInput:
    """The terms form as typed (to show again) and, when valid, as revision values."""

    raw: dict
    errors: dict[str, str]
    terms: dict


def money_text(cents: int | None) -> str:
    if cents is None:
        return ""
    return f"{Decimal(cents) / 100:.2f}".replace(".", ",")


def terms_form_values(revision: OfferRevision, fields: list[FeatureField]) -> dict:
    """What the form shows for a revision."""
    raw = {
        "price": money_text(revision.price_cents),
        "billing_period": revision.billing_period,
        "setup_fee": money_text(revision.setup_fee_cents),
        "commitment_months": str(revision.commitment_months),
        "vat_rate": f"{Decimal(revision.vat_rate_bp) / 100:g}".replace(".", ","),
    }
    for part in ("summary", "description", "eligibility"):
        for language in ("fr", "en"):
            raw[f"{part}-{language}"] = (getattr(revision, part) or {}).get(language, "")
    for field in fields:
        value = revision.features.get(field.attribute.key)
        if field.kind == "boolean":
            raw[field.name] = "" if value is None else ("yes" if value else "no")
        elif field.kind == "integer":
            raw[field.name] = "" if value is None else str(value)
        elif field.kind == "localized_text":
            value = value if isinstance(value, dict) else {}
            raw[field.name + "-fr"] = value.get("fr", "")
            raw[field.name + "-en"] = value.get("en", "")
        elif field.kind == "choices":
            raw[field.name] = list(value or [])
        elif field.kind == "lines":
            raw[field.name] = "\n".join(str(v) for v in (value or []))
        else:
            raw[field.name] = "" if value is None else str(value)
    return raw


def _cents(text: str) -> int | None:
    text = text.strip().replace("\u202f", "").replace(" ", "").replace("€", "").replace(",", ".")
    if not text:
        return 0
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)


def read_terms(form, fields: list[FeatureField]) -> TermsInput:
    """Validate the posted terms form. ``form`` is a MultiDict (``request.form``)."""
    raw: dict = {}
    errors: dict[str, str] = {}
    terms: dict = {}

    def text(name: str) -> str:
        value = (form.get(name) or "").strip()
        raw[name] = value
        return value

    for name, label_error in (
        ("price", _("Indiquez le prix en euros, par exemple 12,50 (0 pour une offre gratuite).")),
        ("setup_fee", _("Indiquez les frais de mise en service en euros, par exemple 30 ou 0.")),
    ):
        cents = _cents(text(name))
        if cents is None:
            errors[name] = label_error
        else:
            terms[f"{name}_cents" if name == "setup_fee" else "price_cents"] = cents
    period = text("billing_period")
    if period not in {p.value for p in BillingPeriod}:
        errors["billing_period"] = _("Choisissez une période de facturation.")
    else:
        terms["billing_period"] = period
    months = text("commitment_months") or "0"
    if not months.isdigit() or int(months) > 120:
        errors["commitment_months"] = _(
            "Indiquez une durée d’engagement en mois, de 0 (sans engagement) à 120."
        )
    else:
        terms["commitment_months"] = int(months)
    vat = text("vat_rate").replace(",", ".").rstrip("%").strip()
    try:
        vat_bp = int(Decimal(vat or "0") * 100)
        if not 0 <= vat_bp <= 10000 or Decimal(vat or "0") * 100 != vat_bp:
            raise InvalidOperation
        terms["vat_rate_bp"] = vat_bp
    except InvalidOperation:
        errors["vat_rate"] = _("Indiquez le taux de TVA en pour cent, par exemple 20 ou 5,5.")
    for part in ("summary", "description", "eligibility"):
        terms[part] = {language: text(f"{part}-{language}") for language in ("fr", "en")}
    if not terms["summary"]["fr"]:
        errors["summary-fr"] = _("Écrivez un résumé de l’offre en français.")
    if not terms["summary"]["en"]:
        errors["summary-en"] = _("Écrivez un résumé de l’offre en anglais.")

    features: dict = {}
    for field in fields:
        key = field.attribute.key
        if field.kind == "boolean":
            value = text(field.name)
            features[key] = {"yes": True, "no": False}.get(value)
        elif field.kind == "integer":
            value = text(field.name)
            if value and not value.isdigit():
                errors[field.name] = _("Indiquez un nombre entier positif, ou laissez vide.")
            features[key] = int(value) if value.isdigit() else None
        elif field.kind == "localized_text":
            fr, en = text(field.name + "-fr"), text(field.name + "-en")
            features[key] = {"fr": fr, "en": en} if (fr or en) else None
        elif field.kind == "choices":
            allowed = [option["value"] for option in field.attribute.options]
            chosen = [value for value in form.getlist(field.name) if value in allowed]
            raw[field.name] = chosen
            features[key] = chosen or None
        elif field.kind == "lines":
            value = (form.get(field.name) or "").strip()
            raw[field.name] = value
            lines = [line.strip() for line in value.splitlines() if line.strip()]
            features[key] = lines or None
        else:
            features[key] = text(field.name) or None
    terms["features"] = features
    return TermsInput(raw=raw, errors=errors, terms=terms)
