"""Bulk uploads: CSV files regions upload to order for many structures at once.

Revision ID: 0004_backoffice_bulk_uploads
Revises: 0003_backoffice_offer_views
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.db

revision: str = "0004_backoffice_bulk_uploads"
down_revision: str | Sequence[str] | None = "0004_provisioning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulkupload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("valid_lines", sa.Integer(), nullable=False),
        sa.Column("invalid_lines", sa.Integer(), nullable=False),
        sa.Column("orders_created", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ordered_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_bulkupload_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidyprogramme.id"],
            name=op.f("fk_bulkupload_programme_id_subsidyprogramme"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_bulkupload_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulkupload")),
    )
    with op.batch_alter_table("bulkupload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulkupload_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bulkupload_programme_id"), ["programme_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bulkupload_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bulkupload_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bulkupload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulkupload_sha256"))
        batch_op.drop_index(batch_op.f("ix_bulkupload_region_code"))
        batch_op.drop_index(batch_op.f("ix_bulkupload_programme_id"))
        batch_op.drop_index(batch_op.f("ix_bulkupload_account_id"))

    op.drop_table("bulkupload")
