"""What the observatory counts that no other table records: views of offer pages."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel


class OfferViewCount(SQLModel, table=True):
    """Views of an offer's page on one day (no visitor is recorded, only the count)."""

    offer_id: int = Field(foreign_key="offer.id", primary_key=True)
    day: dt.date = Field(primary_key=True)
    views: int = 0
