"""Who may use a structure's organisational and applicative mailboxes.

The list is kept in :class:`MailboxAccess`; each change is sent to the operator through the
adapter's ``set_access`` by a background job (:func:`push_mailbox_access`), which always sends
the whole current list, so a repeated or late job leaves the operator with the right one.
"""

from __future__ import annotations

import logging

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Account
from portal.audit import record_audit
from portal.catalogue.models import Operator
from portal.db import session_scope, utcnow
from portal.identifiers import InvalidIdentifier, validate_rpps
from portal.provisioning.interfaces import MailboxUser, PermanentProvisioningError
from portal.provisioning.models import ProvisioningAttempt
from portal.queue import enqueue
from portal.subscriptions.models import Mailbox, MailboxAccess, MailboxState

log = logging.getLogger(__name__)
ROLES = ("user", "secretary", "medical_assistant")
SHARED_TYPES = ("ORG", "APP")


class AccessError(Exception):
    """The change cannot be made; the message is for the user."""


def users_of(session: Session, mailbox_id: int) -> list[MailboxAccess]:
    return list(
        session.exec(
            select(MailboxAccess)
            .where(MailboxAccess.mailbox_id == mailbox_id)
            .order_by(MailboxAccess.name, MailboxAccess.id)
        ).all()
    )


def _changeable(mailbox: Mailbox) -> None:
    if mailbox.type not in SHARED_TYPES:
        raise AccessError(
            _("Seules les boîtes organisationnelles et applicatives ont des utilisateurs.")
        )
    if mailbox.state != MailboxState.ACTIVE or not mailbox.external_id:
        raise AccessError(
            _("La liste des utilisateurs se modifie une fois la boîte ouverte chez l’opérateur.")
        )


def add_user(
    *,
    session: Session,
    mailbox: Mailbox,
    name: str,
    email: str,
    rpps: str,
    role: str,
    account: Account,
) -> MailboxAccess:
    _changeable(mailbox)
    errors = []
    name = name.strip()
    if not name or len(name) > 200:
        errors.append(_("Indiquez le prénom et le nom de la personne."))
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors.append(_("Indiquez une adresse e-mail valide, par exemple nom@exemple.fr."))
    rpps = rpps.strip()
    if rpps:
        try:
            rpps = validate_rpps(rpps)
        except InvalidIdentifier:
            errors.append(
                _("Le numéro RPPS compte 11 chiffres ; laissez vide si la personne n’en a pas.")
            )
    if role not in ROLES:
        errors.append(_("Choisissez le rôle de la personne."))
    if errors:
        raise AccessError(" ".join(errors))
    existing = session.exec(
        select(MailboxAccess).where(
            MailboxAccess.mailbox_id == mailbox.id, MailboxAccess.email == email
        )
    ).first()
    if existing is not None:
        raise AccessError(_("%(email)s utilise déjà cette boîte.", email=email))
    access = MailboxAccess(
        mailbox_id=mailbox.id, name=name, email=email, rpps=rpps or None, role=role
    )
    session.add(access)
    session.flush()
    _changed(session, mailbox, account, "mailbox_user_added", email)
    return access


def remove_user(
    *, session: Session, mailbox: Mailbox, access_id: int, account: Account
) -> MailboxAccess:
    _changeable(mailbox)
    access = session.get(MailboxAccess, access_id)
    if access is None or access.mailbox_id != mailbox.id:
        raise LookupError(access_id)
    session.delete(access)
    session.flush()
    _changed(session, mailbox, account, "mailbox_user_removed", access.email)
    return access


def _changed(session: Session, mailbox: Mailbox, account: Account, action: str, email: str) -> None:
    record_audit(
        session,
        action=action,
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="mailbox",
        target_id=mailbox.id,
        details={"email": email},
    )
    enqueue(push_mailbox_access, mailbox.id, queue="provisioning", session=session)


def push_mailbox_access(mailbox_id: int) -> None:
    """Job: send the mailbox's whole list of users to its operator."""
    from portal.provisioning import registry

    settings = current_app.config["PORTAL_SETTINGS"]
    with session_scope() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        if mailbox is None or not mailbox.external_id or mailbox.state != MailboxState.ACTIVE:
            return
        operator = session.get(Operator, mailbox.operator_id)
        users = [
            MailboxUser(name=a.name, email=a.email, rpps=a.rpps, role=a.role)
            for a in users_of(session, mailbox.id)
        ]
        attempt = ProvisioningAttempt(
            mailbox_id=mailbox.id, operator_id=operator.id, action="set_access"
        )
        session.add(attempt)
        try:
            registry.adapter_for(operator, session=session, settings=settings).set_access(
                mailbox.external_id, users
            )
        except PermanentProvisioningError as error:
            attempt.outcome, attempt.error_code, attempt.message = (
                "permanent",
                error.code,
                error.message,
            )
            attempt.finished_at = utcnow()
            log.warning("mailbox users refused by the operator", extra={"mailbox_id": mailbox.id})
            return
        # A transient error propagates: the queue retries the job with back-off.
        attempt.outcome = "success"
        attempt.finished_at = utcnow()
