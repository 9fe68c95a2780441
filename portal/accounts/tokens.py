"""Single-use links sent by e-mail: invitations to the back-offices and password resets.

Only a SHA-256 of each token is stored (AccountToken.token_hash), so a database leak gives no
usable link. A link works once, until it expires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlmodel import Session, select

from portal.accounts import passwords
from portal.accounts.models import Account, AccountToken, Membership, Role
from portal.accounts.roles import ROLE_SCOPES, role_label, scope_label
from portal.audit import record_audit
from portal.db import utcnow
from portal.mail import queue_email

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"  # noqa: S105 (a token purpose, not a secret)
INVITATION_LIFETIME = dt.timedelta(days=7)
RESET_LIFETIME = dt.timedelta(hours=1)


class TokenProblem(Exception):
    """The link cannot be used. ``reason``: unknown, used or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_token(session: Session, token: str, purpose: str) -> AccountToken:
    """The usable token behind a link, or TokenProblem saying why not."""
    item = session.exec(
        select(AccountToken).where(
            AccountToken.token_hash == _digest(token), AccountToken.purpose == purpose
        )
    ).first()
    if item is None:
        raise TokenProblem("unknown")
    if item.used_at is not None:
        raise TokenProblem("used")
    if item.expires_at <= utcnow():
        raise TokenProblem("expired")
    return item


def _public_link(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def invite(
    session: Session,
    *,
    email: str,
    role: str,
    scope: dict,
    invited_by: Account | None,
    locale: str,
    public_url: str,
    ip_address: str | None = None,
) -> AccountToken:
    """Create an invitation and queue its e-mail (the caller commits)."""
    scope_key = ROLE_SCOPES[Role(role)]
    scope = {scope_key: scope[scope_key]} if scope_key else {}
    token = secrets.token_urlsafe(32)
    item = AccountToken(
        purpose=INVITATION,
        token_hash=_digest(token),
        email=email.strip().lower(),
        role=role,
        scope=scope,
        created_by_id=invited_by.id if invited_by else None,
        expires_at=utcnow() + INVITATION_LIFETIME,
    )
    session.add(item)
    session.flush()
    queue_email(
        session,
        to=item.email,
        template="invitation",
        context={
            "link": _public_link(public_url, f"/invitation/{token}"),
            "role": role_label(role),
            "scope": scope_label(session, scope),
            "inviter": invited_by.display_name if invited_by else "Portail des offres MSSanté",
            "days": INVITATION_LIFETIME.days,
        },
        locale=locale,
        dedup_key=f"invitation:{item.id}",
    )
    record_audit(
        session,
        action="invitation_sent",
        actor_account_id=invited_by.id if invited_by else None,
        actor_label=invited_by.display_name if invited_by else "command line",
        target_type="invitation",
        target_id=item.id,
        ip_address=ip_address,
        details={"email": item.email, "role": role, "scope": scope},
    )
    return item


def grant(
    session: Session,
    account: Account,
    *,
    role: str,
    scope: dict,
    actor: Account | None,
    ip_address: str | None = None,
) -> Membership:
    """Give ``account`` a role in a scope (idempotent), with an audit event."""
    values = {
        "region_code": scope.get("region_code"),
        "operator_id": int(scope["operator_id"]) if scope.get("operator_id") else None,
        "structure_id": int(scope["structure_id"]) if scope.get("structure_id") else None,
    }
    existing = session.exec(
        select(Membership).where(
            Membership.account_id == account.id,
            Membership.role == role,
            Membership.region_code == values["region_code"],
            Membership.operator_id == values["operator_id"],
            Membership.structure_id == values["structure_id"],
        )
    ).first()
    if existing is not None:
        return existing
    membership = Membership(account_id=account.id, role=role, **values)
    session.add(membership)
    session.flush()
    record_audit(
        session,
        action="role_granted",
        actor_account_id=actor.id if actor else None,
        actor_label=actor.display_name if actor else "command line",
        target_type="account",
        target_id=account.id,
        ip_address=ip_address,
        details={"role": role, **{k: v for k, v in values.items() if v is not None}},
    )
    return membership


def revoke(
    session: Session, membership: Membership, *, actor: Account, ip_address: str | None = None
) -> None:
    record_audit(
        session,
        action="role_revoked",
        actor_account_id=actor.id,
        actor_label=actor.display_name,
        target_type="account",
        target_id=membership.account_id,
        ip_address=ip_address,
        details={
            "role": membership.role,
            **{
                k: v
                for k, v in (
                    ("region_code", membership.region_code),
                    ("operator_id", membership.operator_id),
                    ("structure_id", membership.structure_id),
                )
                if v is not None
            },
        },
    )
    session.delete(membership)
    session.flush()


def accept_invitation(
    session: Session,
    item: AccountToken,
    *,
    signed_in: Account | None,
    display_name: str = "",
    password: str = "",
    ip_address: str | None = None,
) -> Account:
    """Use the invitation: the existing account (signed in) or a new one gets the role."""
    account = signed_in
    if account is None:
        account = Account(
            email=item.email,
            display_name=display_name.strip()[:200],
            password_hash=passwords.hash_password(password),
        )
        session.add(account)
        session.flush()
    item.used_at = utcnow()
    item.account_id = account.id
    grant(
        session, account, role=item.role or "", scope=item.scope, actor=None, ip_address=ip_address
    )
    return account


def request_password_reset(
    session: Session, *, email: str, locale: str, public_url: str, ip_address: str | None = None
) -> AccountToken | None:
    """Queue a reset link when an active account has this e-mail; None otherwise (say nothing)."""
    account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
    if account is None or not account.is_active:
        return None
    token = secrets.token_urlsafe(32)
    item = AccountToken(
        purpose=PASSWORD_RESET,
        token_hash=_digest(token),
        email=account.email or "",
        account_id=account.id,
        expires_at=utcnow() + RESET_LIFETIME,
    )
    session.add(item)
    session.flush()
    queue_email(
        session,
        to=item.email,
        template="password_reset",
        context={
            "link": _public_link(public_url, f"/mot-de-passe/nouveau/{token}"),
            "name": account.display_name,
            "minutes": int(RESET_LIFETIME.total_seconds() // 60),
        },
        locale=locale,
        dedup_key=f"password-reset:{item.id}",
    )
    record_audit(
        session,
        action="password_reset_requested",
        target_type="account",
        target_id=account.id,
        ip_address=ip_address,
    )
    return item


def reset_password(
    session: Session, item: AccountToken, password: str, *, ip_address: str | None = None
) -> Account:
    account = session.get(Account, item.account_id)
    account.password_hash = passwords.hash_password(password)
    account.failed_sign_ins = 0
    account.locked_until = None
    now = utcnow()
    # Every other reset link of this account stops working too.
    for other in session.exec(
        select(AccountToken).where(
            AccountToken.account_id == account.id,
            AccountToken.purpose == PASSWORD_RESET,
            AccountToken.used_at.is_(None),
        )
    ).all():
        other.used_at = now
    item.used_at = now
    record_audit(
        session,
        action="password_reset",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="account",
        target_id=account.id,
        ip_address=ip_address,
    )
    return account
