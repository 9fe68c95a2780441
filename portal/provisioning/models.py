"""A record of every call made to an operator on behalf of an order line."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from portal.db import created_at_field, text_field, timestamp_field


class ProvisioningAttempt(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_line_id: int | None = Field(default=None, foreign_key="orderline.id", index=True)
    mailbox_id: int | None = Field(default=None, foreign_key="mailbox.id", index=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    action: str = Field(max_length=30)  # create | suspend | resume | terminate | set_access …
    idempotency_key: str | None = Field(default=None, max_length=120)
    outcome: str = Field(default="started", max_length=20)  # started|success|transient|permanent
    error_code: str | None = Field(default=None, max_length=60)
    message: str | None = text_field()
    started_at: dt.datetime = created_at_field()
    finished_at: dt.datetime | None = timestamp_field()
