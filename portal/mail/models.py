"""E-mails waiting to be sent: written in the same transaction as what caused them."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from portal.db import created_at_field, text_field, timestamp_field


class OutboxMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=120, unique=True, index=True)  # one e-mail per cause
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = text_field(nullable=False, default="")
    body_html: str | None = text_field()
    locale: str = Field(default="fr", max_length=5)
    status: str = Field(default="pending", max_length=10, index=True)  # pending | sent | failed
    attempts: int = 0
    last_error: str | None = text_field()
    created_at: dt.datetime = created_at_field()
    sent_at: dt.datetime | None = timestamp_field()
