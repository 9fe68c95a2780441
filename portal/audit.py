"""Audit trail: who did what, when, from where. Written with the change it describes."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, Session, SQLModel

from portal.db import created_at_field, json_field


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=60, index=True)  # sign_in, sign_in_failed, role_change…
    actor_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    actor_label: str | None = Field(default=None, max_length=200)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=80)
    ip_address: str | None = Field(default=None, max_length=45)
    details: dict = json_field()
    created_at: dt.datetime = created_at_field()


def record_audit(
    session: Session,
    *,
    action: str,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    ip_address: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit makes it durable."""
    event = AuditEvent(
        action=action,
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip_address=ip_address,
        details=details or {},
    )
    session.add(event)
    return event
