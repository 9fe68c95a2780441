"""subsidy: when an order's subsidised price ends, and when Stripe was switched to full price

Revision ID: 0007_subsidy_price_end
Revises: 0006_directory_search_prefixes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision: str = "0007_subsidy_price_end"
down_revision: str | Sequence[str] | None = "0006_directory_search_prefixes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subsidy_ends_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("full_price_from", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_orders_subsidy_ends_at"), ["subsidy_ends_at"])


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_subsidy_ends_at"))
        batch_op.drop_column("full_price_from")
        batch_op.drop_column("subsidy_ends_at")
