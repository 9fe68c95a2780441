"""Orders: the contact e-mail address given on the summary page.

Revision ID: 0005_provisioning_contact_email
Revises: 0004_backoffice_bulk_uploads
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_provisioning_contact_email"
down_revision: str | Sequence[str] | None = "0004_backoffice_bulk_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("contact_email")
