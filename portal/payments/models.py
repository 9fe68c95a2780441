"""Payment events received from Stripe, stored once by event id."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from portal.db import created_at_field, json_field, text_field, timestamp_field


class PaymentEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    stripe_event_id: str = Field(max_length=80, unique=True, index=True)
    type: str = Field(max_length=80)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    payload: dict = json_field()
    received_at: dt.datetime = created_at_field()
    processed_at: dt.datetime | None = timestamp_field()
    error: str | None = text_field()
