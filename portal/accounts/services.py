"""Account services: finding or creating accounts, recording who signed in and who failed."""

from __future__ import annotations

from sqlmodel import Session, select

from portal.accounts.models import Account, Professional
from portal.audit import record_audit


def account_for_professional(session: Session, professional: Professional) -> Account:
    """The professional's account, created at their first Pro Santé Connect sign-in."""
    account = session.exec(
        select(Account).where(Account.professional_id == professional.id)
    ).first()
    display_name = f"{professional.first_name} {professional.last_name}".strip()
    if account is None:
        account = Account(professional_id=professional.id, display_name=display_name)
        session.add(account)
        session.flush()
    elif not account.email:
        account.display_name = display_name  # PSC is the source of a professional's name
    return account


def record_sign_in(
    session: Session, account: Account, *, method: str, ip_address: str | None
) -> None:
    account.failed_sign_ins = 0
    account.locked_until = None
    record_audit(
        session,
        action="sign_in",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="account",
        target_id=account.id,
        ip_address=ip_address,
        details={"method": method},
    )


def record_failed_sign_in(
    session: Session,
    *,
    method: str,
    reason: str,
    ip_address: str | None,
    account: Account | None = None,
    label: str | None = None,
) -> None:
    record_audit(
        session,
        action="sign_in_failed",
        actor_account_id=account.id if account else None,
        actor_label=label or (account.display_name if account else None),
        target_type="account" if account else None,
        target_id=account.id if account else None,
        ip_address=ip_address,
        details={"method": method, "reason": reason},
    )


def record_sign_out(session: Session, account: Account, *, ip_address: str | None) -> None:
    record_audit(
        session,
        action="sign_out",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="account",
        target_id=account.id,
        ip_address=ip_address,
    )


class LinkRefused(Exception):
    """The PSC identity already belongs to another account that is in use."""


def link_professional(
    session: Session, account: Account, professional: Professional, *, ip_address: str | None
) -> Account:
    """Attach a Pro Santé Connect identity to a staff account, so it can sign in with PSC.

    An account the professional got automatically at an earlier PSC sign-in (no e-mail, no
    role) is retired in favour of this one; any other owner makes the link fail.
    """
    from portal.accounts.models import Membership

    holder = session.exec(select(Account).where(Account.professional_id == professional.id)).first()
    if holder is not None and holder.id != account.id:
        has_role = session.exec(
            select(Membership.id).where(Membership.account_id == holder.id)
        ).first()
        if holder.email or has_role is not None:
            raise LinkRefused(f"professional {professional.id} belongs to account {holder.id}")
        holder.professional_id = None
        holder.is_active = False
        session.flush()
    account.professional_id = professional.id
    session.flush()
    record_audit(
        session,
        action="psc_linked",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="account",
        target_id=account.id,
        ip_address=ip_address,
        details={"idnps": professional.idnps},
    )
    return account
