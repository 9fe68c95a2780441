"""Offer view counts: how many times each offer's page was seen each day (the start of the
regions' funnel from offer views to active mailboxes). No visitor is recorded.

Revision ID: 0003_backoffice_offer_views
Revises: 0003_directory_search_vector
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_backoffice_offer_views"
down_revision: str | Sequence[str] | None = "0003_directory_search_vector"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offerviewcount",
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offerviewcount_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("offer_id", "day", name=op.f("pk_offerviewcount")),
    )


def downgrade() -> None:
    op.drop_table("offerviewcount")
