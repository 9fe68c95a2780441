"""Orders made from a validated bulk file, all in one transaction and each only once.

Each line's order key is derived from the region, the programme, the structure and the
mailboxes it asks for, so uploading the same file again (or another file repeating a line)
finds the orders already made and creates nothing new. The quota and budget of the whole file
are reserved in one statement; if that fails, or anything else does, the caller rolls the
transaction back and nothing is ordered.

Nothing is read or written line by line: structures and addresses already used are read in
chunks, orders, their lines and their history are inserted in batches, and one job hands the
orders to provisioning after the commit (10,000 lines: see ``bench/bulk_orders.py``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace

from flask_babel import gettext as _
from sqlalchemy import insert
from sqlmodel import Session, select

from portal.accounts.models import Account, Structure
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.db import session_scope, utcnow
from portal.queue import enqueue
from portal.regions.bulk import BulkLine, BulkReport, read_bulk_file
from portal.regions.models import BulkUpload, SubsidyProgramme
from portal.subscriptions import quotes, states
from portal.subscriptions.models import (
    Mailbox,
    Order,
    OrderEvent,
    OrderLine,
    OrderState,
    PaymentMethod,
)

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


def existing_keys(session: Session, keys: list[str], programme_id: int) -> set[str]:
    """The keys among ``keys`` already ordered. A key names its programme, so the programme's
    orders are read in one indexed query rather than the keys looked up in chunks."""
    ordered = set(
        session.exec(select(Order.idempotency_key).where(Order.programme_id == programme_id))
    )
    return ordered.intersection(keys)


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


def _find_structures(session: Session, lines: list[BulkLine]) -> dict[str, tuple[int, str]]:
    """(id, name) of the lines' structures already known, by line identifier."""
    found: dict[str, tuple[int, str]] = {}
    for column, label in ((Structure.finess, "FINESS"), (Structure.siret, "SIRET")):
        values = sorted(
            {line.finess if label == "FINESS" else line.siret for line in lines} - {None}
        )
        for start in range(0, len(values), CHUNK):
            rows = session.exec(
                select(Structure.id, column, Structure.name).where(
                    column.in_(values[start : start + CHUNK])
                )
            )
            for structure_id, value, name in rows:
                found[f"{label} {value}"] = (structure_id, name)
    return found


def _structures_for(session: Session, lines: list[BulkLine]) -> dict[str, tuple[int, str]]:
    """Each line's structure (id, name) by identifier; the missing ones are created at once."""
    found = _find_structures(session, lines)
    missing: dict[str, BulkLine] = {}
    for line in lines:
        if line.identifier not in found:
            missing.setdefault(line.identifier, line)
    if missing:
        now = utcnow()
        # Multi-row INSERTs; the rows come back in any order, each with its identifier.
        rows = session.execute(
            insert(Structure).returning(Structure.id, Structure.finess, Structure.siret),
            [
                {
                    "finess": line.finess,
                    "siret": line.siret,
                    "siren": line.siret[:9] if line.siret else None,
                    "type": line.structure_type,
                    "name": line.values["name"],
                    "department_code": line.values["department"],
                    "created_at": now,
                }
                for line in missing.values()
            ],
        ).all()
        for structure_id, finess, siret in rows:
            key = f"FINESS {finess}" if finess else f"SIRET {siret}"
            found[key] = (structure_id, missing[key].values["name"])
    return found


def _used_addresses(session: Session, candidates: set[str], domain: str) -> set[str]:
    """The candidates already given to an order line or a mailbox."""
    # Order lines have no index on their address: one pass over the operator's domain.
    used = set(
        session.exec(select(OrderLine.address).where(OrderLine.address.endswith("@" + domain)))
    ).intersection(candidates)
    values = sorted(candidates)
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        used.update(session.exec(select(Mailbox.address).where(Mailbox.address.in_(chunk))))
    return used


def _addresses(line: BulkLine, name: str, domain: str, used: set[str]) -> list[str]:
    """One address per mailbox: name.structure@domain, made unique with the identifier."""
    base = _slug(name)
    proposals = []
    for box in line.mailboxes:
        address = f"{box}.{base}@{domain}"
        if address in used:
            address = f"{box}.{base}-{(line.finess or line.siret).lower()}@{domain}"
        used.add(address)
        proposals.append(address)
    return proposals


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
    already = existing_keys(session, [key for key, _line in keyed], programme.id)
    todo = [(key, line) for key, line in keyed if key not in already]
    mailboxes = _place(session, upload, programme, revision, operator, account, todo) if todo else 0
    now = utcnow()
    upload.ordered_at = now
    upload.orders_created = (upload.orders_created or 0) + len(todo)
    session.add(upload)
    session.flush()
    return BulkOrderResult(created=len(todo), already_ordered=len(already), mailboxes=mailboxes)


def _reserve_all(
    session: Session, programme: SubsidyProgramme, todo: list[tuple[str, BulkLine]], terms: dict
) -> None:
    """Reserve the quota and budget of every line in one statement, or say which line is one
    too many (nothing is reserved then)."""
    first = next(iter(terms.values()))
    total = replace(
        first,
        mailboxes=sum(len(line.mailboxes) for _key, line in todo),
        committed_cents=sum(terms[len(line.mailboxes)].committed_cents for _key, line in todo),
    )
    if quotes.reserve(session, total):
        return
    session.refresh(programme)
    mailboxes = committed = 0
    culprit = todo[-1][1]
    for _key, line in todo:
        mailboxes += len(line.mailboxes)
        committed += terms[len(line.mailboxes)].committed_cents
        over_quota = (
            programme.quota_mailboxes is not None
            and programme.quota_used + mailboxes > programme.quota_mailboxes
        )
        over_budget = (
            programme.budget_cents is not None
            and programme.budget_used_cents + committed > programme.budget_cents
        )
        if over_quota or over_budget:
            culprit = line
            break
    raise BulkOrderError(
        _(
            "Le quota ou le budget du programme ne suffit pas pour la ligne %(line)d : "
            "rien n’a été commandé. Augmentez le quota ou retirez des lignes.",
            line=culprit.number,
        )
    )


def _place(
    session: Session,
    upload: BulkUpload,
    programme: SubsidyProgramme,
    revision: OfferRevision,
    operator: Operator,
    account: Account,
    todo: list[tuple[str, BulkLine]],
) -> int:
    """Create the orders of ``todo`` in a few batched statements; returns the mailbox count.

    Structures and used addresses are read in chunks beforehand, the quota is reserved once,
    orders are inserted in one batch, then their lines and history in two more. Every order
    follows the state machine's own path (checked against its diagram) to ``provisioning``.
    """
    lines = [line for _key, line in todo]
    structures = _structures_for(session, lines)
    counts = {len(line.mailboxes) for line in lines}
    terms = {count: quotes.subsidy_terms(programme, revision, mailboxes=count) for count in counts}
    quoted = {
        count: quotes.compute_quote(revision, mailboxes=count, subsidy=terms[count]).to_json()
        for count in counts
    }
    _reserve_all(session, programme, todo, terms)
    domain = operator.mail_domains[0]
    candidates = {
        address
        for line in lines
        for box in line.mailboxes
        for address in (
            f"{box}.{_slug(structures[line.identifier][1])}@{domain}",
            f"{box}.{_slug(structures[line.identifier][1])}-"
            f"{(line.finess or line.siret).lower()}@{domain}",
        )
    }
    used = _used_addresses(session, candidates, domain)
    path = [OrderState.SUBMITTED]
    if programme.needs_approval:
        # The region orders under its own programme: placing the order is its approval.
        path += [OrderState.AWAITING_APPROVAL, OrderState.APPROVED]
    path.append(OrderState.PROVISIONING)
    states.check_path(OrderState.DRAFT, path)
    now = utcnow()
    session.execute(
        insert(Order),
        [
            {
                "idempotency_key": key,
                "account_id": account.id,
                "structure_id": structures[line.identifier][0],
                "offer_revision_id": revision.id,
                "programme_id": programme.id,
                "state": path[-1],
                "state_changed_at": now,
                "submitted_at": now,
                "created_at": now,
                "quote": {
                    **quoted[len(line.mailboxes)],
                    "source": "bulk",
                    "bulk_upload_id": upload.id,
                    "line": line.number,
                },
                "total_cents": 0,
                "currency": revision.currency,
                "payment_method": PaymentMethod.NONE,
                "locale": "fr",
            }
            for key, line in todo
        ],
    )
    # The new ids, read back by the programme's index (cheaper than RETURNING in batches).
    ids_by_key = dict(
        session.exec(
            select(Order.idempotency_key, Order.id).where(Order.programme_id == programme.id)
        ).all()
    )
    order_ids = [ids_by_key[key] for key, _line in todo]
    order_lines, events = [], []
    actor = f"staff:{account.id}"
    mailboxes = 0
    for order_id, line in zip(order_ids, lines, strict=True):
        users = [
            {"name": line.values["responsible"], "email": line.values["email"], "role": "user"}
        ]
        addresses = _addresses(line, structures[line.identifier][1], domain, used)
        for position, (box, address) in enumerate(
            zip(line.mailboxes, addresses, strict=True), start=1
        ):
            order_lines.append(
                {
                    "order_id": order_id,
                    "position": position,
                    "mailbox_type": "ORG",
                    "address": address,
                    "description": box,
                    "service": box,
                    "responsible": line.values["responsible"],
                    "users": users,
                }
            )
        mailboxes += len(line.mailboxes)
        reason = f"Bulk order, file {upload.filename!r}, line {line.number}"
        previous = OrderState.DRAFT
        for step in path:
            events.append(
                {
                    "order_id": order_id,
                    "from_state": previous,
                    "to_state": step,
                    "actor": actor,
                    "reason": {
                        OrderState.APPROVED: "Ordered by the region",
                        OrderState.PROVISIONING: "Nothing to pay",
                    }.get(step, reason),
                    "created_at": now,
                }
            )
            previous = step
    session.execute(insert(OrderLine), order_lines)
    session.execute(insert(OrderEvent), events)
    # One job hands every order of the file to provisioning, once this transaction commits.
    enqueue(provision_bulk_orders, upload.id, queue="provisioning", session=session)
    return mailboxes


def provision_bulk_orders(upload_id: int) -> None:
    """Job: enqueue the provisioning of each order of a bulk upload still waiting for it
    (safe to run twice: provisioning an order is idempotent)."""
    from portal.provisioning.jobs import provision_order

    with session_scope() as session:
        ids = session.exec(
            select(Order.id).where(
                Order.quote["bulk_upload_id"].as_integer() == upload_id,
                Order.state == OrderState.PROVISIONING,
            )
        ).all()
    for order_id in ids:
        enqueue(provision_order, order_id, queue="provisioning")
