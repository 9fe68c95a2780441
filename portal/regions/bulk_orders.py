"""Orders made from a validated bulk file, all in one transaction and each only once.

Each line's order key is derived from the region, the programme, the structure and the
mailboxes it asks for, so uploading the same file again (or another file repeating a line)
finds the orders already made and creates nothing new. The quota is reserved order by order
with :func:`portal.subscriptions.quotes.reserve`; if one reservation fails, the whole batch is
rolled back by the caller and nothing is ordered.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Account, Structure
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.db import utcnow
from portal.regions.bulk import BulkLine, BulkReport, read_bulk_file
from portal.regions.models import BulkUpload, SubsidyProgramme
from portal.subscriptions import quotes, states
from portal.subscriptions.models import Order, OrderLine, OrderState, PaymentMethod
from portal.subscriptions.submission import continue_after_submission

CHUNK = 500


class BulkOrderError(Exception):
    """The batch cannot be ordered; nothing was. The message is for the user."""


@dataclass(frozen=True)
class BulkOrderResult:
    created: int
    already_ordered: int
    mailboxes: int


def line_key(region_code: str, programme_id: int, line: BulkLine) -> str:
    basis = f"{region_code}|{programme_id}|{line.identifier}|{','.join(sorted(line.mailboxes))}"
    return "bulk-" + hashlib.sha256(basis.encode()).hexdigest()[:60]


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found.update(
            session.exec(
                select(Order.idempotency_key).where(Order.idempotency_key.in_(chunk))
            ).all()
        )
    return found


def report_for(session: Session, upload: BulkUpload, programme: SubsidyProgramme) -> BulkReport:
    return read_bulk_file(
        upload.content,
        session=session,
        region_code=upload.region_code,
        eligible_types=programme.structure_types or None,
    )


def pays_everything(programme: SubsidyProgramme, revision: OfferRevision) -> bool:
    """Bulk orders are paid by the region alone: the programme must cover the whole price."""
    terms = quotes.subsidy_terms(programme, revision, mailboxes=1)
    return quotes.compute_quote(revision, subsidy=terms).is_free


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:40].strip("-") or "structure"


def _structure_for(session: Session, line: BulkLine) -> Structure:
    column = Structure.finess if line.finess else Structure.siret
    value = line.finess or line.siret
    structure = session.exec(select(Structure).where(column == value)).first()
    if structure is None:
        structure = Structure(
            finess=line.finess,
            siret=line.siret,
            siren=line.siret[:9] if line.siret else None,
            type=line.structure_type,
            name=line.values["name"],
            department_code=line.values["department"],
        )
        session.add(structure)
        session.flush()
    return structure


def _addresses(
    session: Session, line: BulkLine, structure: Structure, domain: str, taken: set[str]
) -> list[str]:
    """One address per mailbox: name.structure@domain, made unique with the identifier."""
    base = _slug(structure.name)
    proposals = []
    for box in line.mailboxes:
        address = f"{box}.{base}@{domain}"
        if address in taken or _address_used(session, address):
            address = f"{box}.{base}-{(line.finess or line.siret).lower()}@{domain}"
        taken.add(address)
        proposals.append(address)
    return proposals


def _address_used(session: Session, address: str) -> bool:
    return (
        session.exec(select(OrderLine.id).where(OrderLine.address == address)).first() is not None
    )


def order_bulk(*, session: Session, upload: BulkUpload, account: Account) -> BulkOrderResult:
    """Order every valid line of ``upload`` not ordered yet. The caller commits, or rolls back
    on :class:`BulkOrderError`."""
    programme = session.get(SubsidyProgramme, upload.programme_id)
    if programme is None or programme.region_code != upload.region_code:
        raise BulkOrderError(_("Ce programme n’existe plus."))
    if programme.status != "published":
        raise BulkOrderError(
            _("Le programme « %(name)s » n’est pas publié.", name=programme.name.get("fr", ""))
        )
    offer = session.get(Offer, programme.offer_id)
    revision = session.get(OfferRevision, offer.current_revision_id) if offer else None
    operator = session.get(Operator, offer.operator_id) if offer else None
    if revision is None or operator is None or not operator.mail_domains:
        raise BulkOrderError(_("L’offre de ce programme ne peut pas être commandée."))
    if not pays_everything(programme, revision):
        raise BulkOrderError(
            _(
                "Les commandes groupées sont réservées aux programmes qui prennent en charge la "
                "totalité du prix, sans frais de mise en service."
            )
        )
    report = report_for(session, upload, programme)
    keyed = [(line_key(upload.region_code, programme.id, line), line) for line in report.valid]
    already = existing_keys(session, [key for key, _line in keyed])
    todo = [(key, line) for key, line in keyed if key not in already]
    actor = f"staff:{account.id}"
    taken: set[str] = set()
    now = utcnow()
    mailboxes = 0
    for key, line in todo:
        structure = _structure_for(session, line)
        terms = quotes.subsidy_terms(programme, revision, mailboxes=len(line.mailboxes))
        if not quotes.reserve(session, terms):
            raise BulkOrderError(
                _(
                    "Le quota ou le budget du programme ne suffit pas pour la ligne %(line)d : "
                    "rien n’a été commandé. Augmentez le quota ou retirez des lignes.",
                    line=line.number,
                )
            )
        order = Order(
            idempotency_key=key,
            account_id=account.id,
            structure_id=structure.id,
            offer_revision_id=revision.id,
            programme_id=programme.id,
            state=OrderState.DRAFT,
            quote={
                **quotes.compute_quote(
                    revision, mailboxes=len(line.mailboxes), subsidy=terms
                ).to_json(),
                "source": "bulk",
                "bulk_upload_id": upload.id,
                "line": line.number,
            },
            total_cents=0,
            payment_method=PaymentMethod.NONE,
            created_at=now,
        )
        session.add(order)
        session.flush()
        users = [
            {"name": line.values["responsible"], "email": line.values["email"], "role": "user"}
        ]
        for position, (box, address) in enumerate(
            zip(
                line.mailboxes,
                _addresses(session, line, structure, operator.mail_domains[0], taken),
                strict=True,
            ),
            start=1,
        ):
            session.add(
                OrderLine(
                    order_id=order.id,
                    position=position,
                    mailbox_type="ORG",
                    address=address,
                    description=box,
                    service=box,
                    responsible=line.values["responsible"],
                    users=users,
                )
            )
        mailboxes += len(line.mailboxes)
        reason = f"Bulk order, file {upload.filename!r}, line {line.number}"
        states.transition(session, order, OrderState.SUBMITTED, actor=actor, reason=reason)
        if programme.needs_approval:
            # The region orders under its own programme: placing the order is its approval.
            states.transition(
                session, order, OrderState.AWAITING_APPROVAL, actor=actor, reason=reason
            )
            states.transition(
                session, order, OrderState.APPROVED, actor=actor, reason="Ordered by the region"
            )
        continue_after_submission(session, order, actor=actor)
    upload.ordered_at = now
    upload.orders_created = (upload.orders_created or 0) + len(todo)
    session.add(upload)
    session.flush()
    return BulkOrderResult(created=len(todo), already_ordered=len(already), mailboxes=mailboxes)
