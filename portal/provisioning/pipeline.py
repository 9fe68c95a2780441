"""From a paid-or-free order to a working mailbox listed in the directory.

The steps, each a job on its own queue (:mod:`portal.provisioning.jobs`), each safe to run twice:

1. ``provisioning``: create every mailbox of the order at its operator, through the adapter
   chosen for that operator. The idempotency key is derived from the order line, so a retry,
   a replayed job or the reconciler can never create a second mailbox.
2. ``directory``: once every mailbox is active at the operator, publish them in the directory,
   mark the order ``active`` and queue the "your mailbox is ready" e-mail (``mail`` queue).
   When the operator creates the mailboxes at once (the usual case), the creation job does
   this step itself, in the same transaction: the order becomes ``active`` with the operator's
   answer, and the e-mail is sent by the same worker right after (a follow-up, see
   :mod:`portal.queue`). The ``directory`` job remains for mailboxes completed later
   (callbacks, operator staff) and for a directory that did not answer (retried with back-off).

A transient failure retries the step with back-off; a permanent one moves the order to
``needs_attention`` with the operator's reason, for the person and for staff to see; staff retry
with :func:`retry_order` once the cause is fixed.
"""

from __future__ import annotations

import hashlib
import logging

from flask import current_app, url_for
from sqlmodel import Session, select

from portal.accounts.models import Account, Professional, Structure
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.config import Settings
from portal.db import insert_with_conflicts, utcnow
from portal.directory.publisher import (
    DirectoryPublishError,
    DirectoryUnavailable,
    publish_mailbox,
    unpublish_mailbox,
)
from portal.mail import queue_email
from portal.provisioning import registry
from portal.provisioning.interfaces import (
    Holder,
    MailboxRequest,
    MailboxUser,
    Organisation,
    PermanentProvisioningError,
    RemoteMailbox,
    RemoteStatus,
    TransientProvisioningError,
)
from portal.provisioning.models import ProvisioningAttempt
from portal.queue import TransientJobError, enqueue
from portal.subscriptions import states
from portal.subscriptions.models import (
    Mailbox,
    MailboxState,
    Order,
    OrderLine,
    OrderState,
    Subscription,
)

log = logging.getLogger(__name__)
SYSTEM = "system"


# --- entry points used by other domains -------------------------------------------------------


def start_provisioning(session: Session, order: Order, *, actor: str, reason: str | None = None):
    """Move ``order`` to ``provisioning`` and hand it to the workers once the caller commits."""
    event = states.transition(session, order, OrderState.PROVISIONING, actor=actor, reason=reason)
    from portal.provisioning.jobs import provision_order

    enqueue(provision_order, order.id, queue="provisioning", session=session)
    return event


def retry_order(session: Session, order: Order, *, actor: str) -> None:
    """Staff: try an order in ``needs_attention`` again (after fixing the cause)."""
    start_provisioning(session, order, actor=actor, reason="Retried by staff")


def line_idempotency_key(order: Order, line: OrderLine) -> str:
    """The operator-side key of one order line: the same line always gives the same key."""
    digest = hashlib.sha256(f"{order.idempotency_key}:{line.position}".encode()).hexdigest()
    return f"mssportal-{digest[:40]}"


def operator_of(session: Session, order: Order) -> Operator:
    return _parties_of(session, order)[0]


def _parties_of(
    session: Session, order: Order
) -> tuple[Operator, Professional | None, Account | None]:
    """The order's operator, professional and account, in one query."""
    row = session.exec(
        select(Operator, Professional, Account)
        .select_from(OfferRevision)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .join(Operator, Operator.id == Offer.operator_id)
        .outerjoin(Professional, Professional.id == order.professional_id)
        .outerjoin(Account, Account.id == order.account_id)
        .where(OfferRevision.id == order.offer_revision_id)
    ).first()
    if row is None:
        raise PermanentProvisioningError("operator_missing", "The offer's operator is unknown.")
    return row[0], row[1], row[2]


def lines_of(session: Session, order_id: int) -> list[OrderLine]:
    return list(
        session.exec(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.position)
        )
    )


# --- step 1: create at the operator ----------------------------------------------------------


def provision(session: Session, order_id: int, settings: Settings) -> None:
    """Create the order's mailboxes at the operator. Raises TransientJobError to be retried."""
    order = states.lock_order(session, order_id)
    if order is None or order.state != OrderState.PROVISIONING:
        return
    try:
        # Read once: the request to the operator and the directory entry both need the holder.
        operator, professional, account = _parties_of(session, order)
        adapter = registry.adapter_for(operator, session=session, settings=settings)
    except PermanentProvisioningError as error:
        _needs_attention(session, order, error.message)
        return
    all_active = True
    mailboxes = []
    for line in lines_of(session, order.id):
        try:
            mailbox = _mailbox_for(session, order, line, operator)
        except PermanentProvisioningError as error:
            _needs_attention(session, order, error.message)
            return
        mailboxes.append(mailbox)
        if mailbox.state == MailboxState.ACTIVE:
            continue
        if adapter.kind == "manual" and not mailbox.external_id and _waiting(session, mailbox):
            all_active = False  # already in the operator's work list
            continue
        key = line_idempotency_key(order, line)
        request = (
            None
            if mailbox.external_id
            else _request(session, order, line, operator, settings, professional)
        )
        attempt = ProvisioningAttempt(
            order_line_id=line.id,
            mailbox_id=mailbox.id,
            operator_id=operator.id,
            action="create",
            idempotency_key=key,
        )
        # Added once finished, so that it is written in one statement (this transaction
        # commits only after the operator's answer anyway).
        try:
            if request is None:
                remote = adapter.get_mailbox(mailbox.external_id)
            else:
                remote = adapter.create_mailbox(request, key)
        except TransientProvisioningError as error:
            session.add(attempt)
            _finish(attempt, "transient", None, str(error))
            session.commit()  # keep the trace of the attempt; the job is retried
            raise
        except PermanentProvisioningError as error:
            session.add(attempt)
            _finish(attempt, "permanent", error.code, error.message)
            _needs_attention(session, order, error.message)
            return
        session.add(attempt)
        if not apply_remote_state(session, order, mailbox, remote, attempt):
            return
        all_active = all_active and mailbox.state == MailboxState.ACTIVE
    if all_active:
        try:
            activate(session, order, mailboxes, settings, operator=operator, account=account)
        except TransientJobError:
            # The directory did not answer: the operator's answer is kept (this transaction
            # commits) and the directory step is retried on its own with back-off.
            from portal.provisioning.jobs import register_order_in_directory

            enqueue(register_order_in_directory, order.id, queue="directory", session=session)


def apply_remote_state(
    session: Session,
    order: Order,
    mailbox: Mailbox,
    remote: RemoteMailbox,
    attempt: ProvisioningAttempt | None = None,
) -> bool:
    """Record what the operator says about a mailbox being created; False if the order stopped."""
    if remote.external_id:
        mailbox.external_id = remote.external_id
    connection = {key: value for key, value in vars(remote.connection).items() if value}
    if connection:
        mailbox.connection = connection
    if remote.status == RemoteStatus.ACTIVE:
        mailbox.state = MailboxState.ACTIVE
        mailbox.activated_at = mailbox.activated_at or utcnow()
        outcome = "success"
    elif remote.status == RemoteStatus.PENDING:
        outcome = "waiting"  # completes through a callback, a poll or the operator's staff
    else:
        message = remote.error_message or "The operator could not create the mailbox."
        if attempt is not None:
            _finish(attempt, "permanent", remote.error_code or remote.status, message)
        _needs_attention(session, order, message)
        return False
    if attempt is not None:
        _finish(attempt, outcome, None, None)
    session.add(mailbox)
    session.flush()
    return True


def mailbox_reported(session: Session, *, operator: Operator, remote: RemoteMailbox) -> bool:
    """An operator told us (callback) about a mailbox: continue its order. False if unknown."""
    mailbox = session.exec(
        select(Mailbox).where(
            Mailbox.operator_id == operator.id, Mailbox.external_id == remote.external_id
        )
    ).first()
    if mailbox is None:
        return False
    line = session.exec(select(OrderLine).where(OrderLine.mailbox_id == mailbox.id)).first()
    order = states.lock_order(session, line.order_id) if line else None
    if order is None or order.state != OrderState.PROVISIONING:
        return True  # nothing waits for it any more (already active, or cancelled)
    if apply_remote_state(session, order, mailbox, remote):
        from portal.provisioning.jobs import provision_order

        # The creation job checks every line and moves on when all are active.
        enqueue(provision_order, order.id, queue="provisioning", session=session)
    return True


def complete_manual_creation(
    session: Session, *, mailbox_id: int, external_id: str, actor: str
) -> None:
    """Operator staff created a mailbox by hand (``manual`` adapter) and give its identifier."""
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or mailbox.state != MailboxState.PENDING:
        raise ValueError("This mailbox is not waiting to be created.")
    mailbox.external_id = external_id.strip()
    mailbox.state = MailboxState.ACTIVE
    mailbox.activated_at = utcnow()
    session.add(mailbox)
    for attempt in session.exec(
        select(ProvisioningAttempt).where(
            ProvisioningAttempt.mailbox_id == mailbox_id, ProvisioningAttempt.outcome == "waiting"
        )
    ):
        _finish(attempt, "success", None, f"Completed by {actor}")
    session.flush()
    line = session.exec(select(OrderLine).where(OrderLine.mailbox_id == mailbox.id)).first()
    if line is not None:
        from portal.provisioning.jobs import provision_order

        enqueue(provision_order, line.order_id, queue="provisioning", session=session)


def _mailbox_for(session: Session, order: Order, line: OrderLine, operator: Operator) -> Mailbox:
    if line.mailbox_id is not None:
        mailbox = session.get(Mailbox, line.mailbox_id)
        if mailbox is not None:
            return mailbox
    address = line.address.lower()
    values = {
        "address": address,
        "type": line.mailbox_type,
        "operator_id": operator.id,
        "professional_id": order.professional_id if line.mailbox_type in ("PER", "CAB") else None,
        "structure_id": order.structure_id,
        "description": line.description,
        "service": line.service,
        "responsible": line.responsible,
    }
    # One statement: nothing is written if another mailbox has the address (or is taking it
    # in a transaction that commits first).
    mailbox = session.scalars(
        insert_with_conflicts(session, Mailbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["address"])
        .returning(Mailbox)
    ).first()
    if mailbox is None:
        raise PermanentProvisioningError(
            "address_unavailable",
            f"The address {address} is already used by another mailbox. "
            "Cancel this order and choose another address.",
        )
    line.mailbox_id = mailbox.id
    session.add(line)
    session.flush()
    return mailbox


def _request(
    session: Session,
    order: Order,
    line: OrderLine,
    operator: Operator,
    settings: Settings,
    professional: Professional | None,
) -> MailboxRequest:
    holder = None
    if professional is not None and line.mailbox_type in ("PER", "CAB"):
        holder = Holder(
            idnps=professional.idnps,
            first_name=professional.first_name,
            last_name=professional.last_name,
            rpps=professional.rpps,
            profession_code=professional.profession_code,
        )
    organisation = None
    if order.structure_id:
        structure = session.get(Structure, order.structure_id)
        if structure is not None:
            organisation = Organisation(
                name=structure.name, finess=structure.finess, siret=structure.siret
            )
    users = tuple(
        MailboxUser(
            name=str(user.get("name", "")),
            email=str(user.get("email", "")),
            rpps=user.get("rpps"),
            role=str(user.get("role") or "user"),
        )
        for user in line.users or []
        if isinstance(user, dict) and user.get("name") and user.get("email")
    )
    return MailboxRequest(
        address=line.address.lower(),
        mailbox_type=line.mailbox_type,
        holder=holder,
        organisation=organisation,
        description=line.description,
        service=line.service,
        responsible=line.responsible,
        users=users,
        callback_url=f"{settings.public_url.rstrip('/')}/webhooks/operators/{operator.slug}",
    )


def _waiting(session: Session, mailbox: Mailbox) -> bool:
    return (
        session.exec(
            select(ProvisioningAttempt.id).where(
                ProvisioningAttempt.mailbox_id == mailbox.id,
                ProvisioningAttempt.outcome == "waiting",
            )
        ).first()
        is not None
    )


def _finish(attempt: ProvisioningAttempt, outcome: str, code: str | None, message: str | None):
    attempt.outcome = outcome
    attempt.error_code = code[:60] if code else None
    attempt.message = message
    attempt.finished_at = utcnow()


def _needs_attention(session: Session, order: Order, reason: str) -> None:
    log.warning("order needs attention", extra={"order_id": order.id, "reason": reason})
    states.transition(session, order, OrderState.NEEDS_ATTENTION, actor=SYSTEM, reason=reason)


# --- step 2: directory, activation, e-mail ---------------------------------------------------


def register_in_directory(session: Session, order_id: int, settings: Settings) -> None:
    """Publish the order's mailboxes in the directory, then activate the order."""
    order = states.lock_order(session, order_id)
    if order is None or order.state != OrderState.PROVISIONING:
        return
    mailboxes = []
    for line in lines_of(session, order.id):
        mailbox = session.get(Mailbox, line.mailbox_id) if line.mailbox_id else None
        if mailbox is None or mailbox.state != MailboxState.ACTIVE:
            return  # not ready: the creation step enqueues this step again when it is
        mailboxes.append(mailbox)
    activate(session, order, mailboxes, settings)


def activate(
    session: Session,
    order: Order,
    mailboxes: list[Mailbox],
    settings: Settings,
    *,
    operator: Operator | None = None,
    account: Account | None = None,
) -> None:
    """The order's mailboxes all exist at the operator: list them, activate the order, e-mail.

    The caller holds the order's lock. Raises TransientJobError, having changed nothing, when
    the directory does not answer; a permanent directory refusal moves the order to
    ``needs_attention``, with nothing listed. ``operator`` and ``account``: the order's, when
    the caller has read them already.
    """
    # A refusal leaves nothing behind by itself for one mailbox published in our directory
    # only; several mailboxes (one refused after another was listed) or a remote directory
    # (refusing after ours has listed it) need a savepoint to undo what was done.
    savepoint = (
        session.begin_nested() if len(mailboxes) > 1 or settings.directory_fhir_base_url else None
    )
    try:
        for mailbox in mailboxes:
            publish_mailbox(session, mailbox_id=mailbox.id, settings=settings)
    except DirectoryUnavailable as error:
        if savepoint is not None:
            savepoint.rollback()
        raise TransientJobError(str(error)) from error
    except DirectoryPublishError as error:
        if savepoint is not None:
            savepoint.rollback()
        _needs_attention(session, order, str(error))
        return
    if savepoint is not None:
        savepoint.commit()
    subscription = Subscription(
        order_id=order.id,
        offer_revision_id=order.offer_revision_id,
        professional_id=order.professional_id,
        structure_id=order.structure_id,
        replaces_subscription_id=order.replaces_subscription_id,
    )
    session.add(subscription)
    session.flush()
    for mailbox in mailboxes:
        mailbox.subscription_id = subscription.id
        session.add(mailbox)
    states.transition(
        session,
        order,
        OrderState.ACTIVE,
        actor=SYSTEM,
        reason="Mailbox created at the operator and listed in the directory",
    )
    if operator is None or account is None:
        operator, _professional, account = _parties_of(session, order)
    _send_ready_email(session, order, mailboxes, operator, account)
    if order.replaces_subscription_id:
        _keep_preferred_choice(session, order.replaces_subscription_id, mailboxes)
        _terminate_replaced(session, order.replaces_subscription_id)


def _send_ready_email(
    session: Session,
    order: Order,
    mailboxes: list[Mailbox],
    operator: Operator,
    account: Account | None,
) -> None:
    to = order.contact_address(account)
    if account is None or not to:
        return  # the order page shows the same connection details
    for mailbox in mailboxes:
        queue_email(
            session,
            to=to,
            template="mailbox_ready",
            context=ready_email_context(
                holder_name=account.display_name,
                address=mailbox.address,
                operator=operator,
                connection=mailbox.connection or {},
                order_url=_order_url(order),
            ),
            locale=order.locale,
            dedup_key=f"mailbox-ready:{mailbox.id}",
        )


def ready_email_context(
    *,
    holder_name: str,
    address: str,
    operator: Operator,
    connection: dict[str, object],
    order_url: str,
) -> dict[str, object]:
    """What the "mailbox ready" e-mail says: the address, where and how to connect."""
    return {
        "holder_name": holder_name,
        "address": address,
        "operator_name": operator.name,
        "webmail_url": connection.get("webmail_url"),
        "imap_host": connection.get("imap_host"),
        "imap_port": connection.get("imap_port"),
        "smtp_host": connection.get("smtp_host"),
        "smtp_port": connection.get("smtp_port"),
        "order_url": order_url,
        "support_hours": operator.support_hours or None,
    }


def _order_url(order: Order) -> str:
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    base = settings.public_url.rstrip("/")
    try:
        path = url_for("subscriptions.order", order_id=order.id)
    except Exception:  # the page is not registered in this app (tools, some tests)
        path = f"/commandes/{order.id}"
    return f"{base}{path}" if path.startswith("/") else path


# --- termination (cancel an active mailbox, switch of offer) ---------------------------------


def request_termination(session: Session, order: Order, *, actor: str, reason: str) -> None:
    """Terminate an active (or suspended) order's mailboxes at the operator, in the background."""
    states.transition(session, order, OrderState.TERMINATING, actor=actor, reason=reason)
    from portal.provisioning.jobs import terminate_order

    enqueue(terminate_order, order.id, queue="provisioning", session=session)


def _keep_preferred_choice(session: Session, old_subscription_id: int, new: list[Mailbox]) -> None:
    """A switch of offer keeps the holder's choice: the new address becomes the preferred one."""
    from portal.directory.models import DirectoryEntry

    old_ids = [
        mailbox.id
        for mailbox in session.exec(
            select(Mailbox).where(Mailbox.subscription_id == old_subscription_id)
        )
    ]
    old_entries = list(
        session.exec(select(DirectoryEntry).where(DirectoryEntry.mailbox_id.in_(old_ids or [0])))
    )
    if not any(entry.preferred for entry in old_entries):
        return
    for entry in old_entries:
        entry.preferred = False
        session.add(entry)
    for entry in session.exec(
        select(DirectoryEntry).where(DirectoryEntry.mailbox_id.in_([m.id for m in new] or [0]))
    ):
        entry.preferred = True
        session.add(entry)
    session.flush()


def _terminate_replaced(session: Session, subscription_id: int) -> None:
    old = session.get(Subscription, subscription_id)
    old_order = states.lock_order(session, old.order_id) if old else None
    if old_order is not None and states.can_transition(old_order, OrderState.TERMINATING):
        request_termination(
            session,
            old_order,
            actor=SYSTEM,
            reason="Replaced by a new offer whose mailbox is now active",
        )


def terminate(session: Session, order_id: int, settings: Settings) -> None:
    """Terminate every mailbox of the order at the operator and remove it from the directory."""
    order = states.lock_order(session, order_id)
    if order is None or order.state != OrderState.TERMINATING:
        return
    operator = operator_of(session, order)
    adapter = registry.adapter_for(operator, session=session, settings=settings)
    for line in lines_of(session, order.id):
        mailbox = session.get(Mailbox, line.mailbox_id) if line.mailbox_id else None
        if mailbox is None or mailbox.state == MailboxState.TERMINATED:
            continue
        attempt = ProvisioningAttempt(
            order_line_id=line.id,
            mailbox_id=mailbox.id,
            operator_id=operator.id,
            action="terminate",
        )
        session.add(attempt)
        try:
            if mailbox.external_id:
                adapter.terminate(mailbox.external_id)
        except TransientProvisioningError as error:
            _finish(attempt, "transient", None, str(error))
            session.commit()
            raise
        except PermanentProvisioningError as error:
            if error.code != "not_found":
                _finish(attempt, "permanent", error.code, error.message)
                session.commit()
                raise TransientJobError(error.message) from error
        _finish(attempt, "success", None, None)
        unpublish_mailbox(session, mailbox_id=mailbox.id, settings=settings)
        mailbox.state = MailboxState.TERMINATED
        mailbox.terminated_at = utcnow()
        session.add(mailbox)
    subscription = session.exec(
        select(Subscription).where(Subscription.order_id == order.id)
    ).first()
    if subscription is not None:
        subscription.state = "terminated"
        subscription.ends_at = utcnow()
        session.add(subscription)
    states.transition(
        session, order, OrderState.TERMINATED, actor=SYSTEM, reason="Terminated at the operator"
    )
