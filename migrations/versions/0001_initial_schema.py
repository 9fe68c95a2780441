"""initial schema

Revision ID: 0001
Revises:
Created: 2026-11-25 17:02:53.036092
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.db

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comparisonattribute",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("group", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("help", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("null_means", sa.JSON(), nullable=False),
        sa.Column("localized", sa.Boolean(), nullable=False),
        sa.Column("filterable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_comparisonattribute")),
    )
    with op.batch_alter_table("comparisonattribute", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comparisonattribute_group"), ["group"], unique=False)

    op.create_table(
        "operator",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("ans_contract", sa.Boolean(), nullable=False),
        sa.Column("hds_certified", sa.Boolean(), nullable=False),
        sa.Column("mail_domains", sa.JSON(), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("support_hours", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adapter_kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("adapter_settings", sa.JSON(), nullable=False),
        sa.Column("adapter_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("callback_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator")),
    )
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_slug"), ["slug"], unique=True)

    op.create_table(
        "outboxmessage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("to_address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outboxmessage")),
    )
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outboxmessage_dedup_key"), ["dedup_key"], unique=True)
        batch_op.create_index(batch_op.f("ix_outboxmessage_status"), ["status"], unique=False)

    op.create_table(
        "professional",
        sa.Column("idnps", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("rpps", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("civility", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("profession_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("category_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("savoir_faire_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exercices", sa.JSON(), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_professional")),
    )
    with op.batch_alter_table("professional", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_professional_idnps"), ["idnps"], unique=True)
        batch_op.create_index(batch_op.f("ix_professional_rpps"), ["rpps"], unique=False)

    op.create_table(
        "region",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("situation", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("launching_regional_operator", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region")),
    )
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
            name=op.f("fk_account_professional_id_professional"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_email"), ["email"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_account_professional_id"), ["professional_id"], unique=True
        )

    op.create_table(
        "department",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_department_region_code_region")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_department")),
    )
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_department_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "offer",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("mailbox_types", sa.JSON(), nullable=False),
        sa.Column("professions", sa.JSON(), nullable=False),
        sa.Column("structure_types", sa.JSON(), nullable=False),
        sa.Column("coverage_national", sa.Boolean(), nullable=False),
        sa.Column("coverage_regions", sa.JSON(), nullable=False),
        sa.Column("coverage_departments", sa.JSON(), nullable=False),
        sa.Column("max_per_professional", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column(
            "publisher_region_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("current_revision_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_offer_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["publisher_region_code"],
            ["region.code"],
            name=op.f("fk_offer_publisher_region_code_region"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
    )
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_offer_publisher_region_code"), ["publisher_region_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_offer_slug"), ["slug"], unique=True)
        batch_op.create_index(batch_op.f("ix_offer_status"), ["status"], unique=False)

    op.create_table(
        "accounttoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_accounttoken_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["account.id"], name=op.f("fk_accounttoken_created_by_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounttoken")),
    )
    with op.batch_alter_table("accounttoken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounttoken_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("actor_account_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_account_id"],
            ["account.id"],
            name=op.f("fk_auditevent_actor_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auditevent")),
    )
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditevent_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_auditevent_actor_account_id"), ["actor_account_id"], unique=False
        )

    op.create_table(
        "offerrevision",
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("billing_period", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("setup_fee_cents", sa.Integer(), nullable=False),
        sa.Column("commitment_months", sa.Integer(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offerrevision_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offerrevision")),
        sa.UniqueConstraint("offer_id", "number", name=op.f("uq_offerrevision_offer_id_number")),
    )
    with op.batch_alter_table("offerrevision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offerrevision_offer_id"), ["offer_id"], unique=False)
    # offer and offerrevision point at each other: the second key comes once both exist.
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_offer_current_revision", "offerrevision", ["current_revision_id"], ["id"]
        )

    op.create_table(
        "structure",
        sa.Column("finess", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("finess_ej", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("siret", sqlmodel.sql.sqltypes.AutoString(length=14), nullable=True),
        sa.Column("siren", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("sector_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("trade_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("address_line", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("department_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["department.code"],
            name=op.f("fk_structure_department_code_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_structure")),
    )
    with op.batch_alter_table("structure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_structure_department_code"), ["department_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_structure_finess"), ["finess"], unique=True)
        batch_op.create_index(batch_op.f("ix_structure_finess_ej"), ["finess_ej"], unique=False)
        batch_op.create_index(batch_op.f("ix_structure_siren"), ["siren"], unique=False)
        batch_op.create_index(batch_op.f("ix_structure_siret"), ["siret"], unique=True)

    op.create_table(
        "subsidyprogramme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("duration_months", sa.Integer(), nullable=True),
        sa.Column("structure_types", sa.JSON(), nullable=False),
        sa.Column("professions", sa.JSON(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("quota_mailboxes", sa.Integer(), nullable=True),
        sa.Column("quota_used", sa.Integer(), nullable=False),
        sa.Column("budget_cents", sa.Integer(), nullable=True),
        sa.Column("budget_used_cents", sa.Integer(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_subsidyprogramme_offer_id_offer")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_subsidyprogramme_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidyprogramme")),
    )
    with op.batch_alter_table("subsidyprogramme", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subsidyprogramme_offer_id"), ["offer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subsidyprogramme_region_code"), ["region_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subsidyprogramme_slug"), ["slug"], unique=True)

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("structure_id", sa.Integer(), nullable=False),
        sa.Column("role_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("mode_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
            name=op.f("fk_activity_professional_id_professional"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_activity_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
        sa.UniqueConstraint(
            "professional_id", "structure_id", name=op.f("uq_activity_professional_id_structure_id")
        ),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_professional_id"), ["professional_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_structure_id"), ["structure_id"], unique=False
        )

    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_membership_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_membership_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_membership_region_code_region")
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_membership_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint(
            "account_id",
            "role",
            "region_code",
            "operator_id",
            "structure_id",
            name=op.f("uq_membership_account_id_role_region_code_operator_id_structure_id"),
        ),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_account_id"), ["account_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.Column("offer_revision_id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("state_changed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("quote", sa.JSON(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("payment_method", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column(
            "purchase_order_number", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True
        ),
        sa.Column("stripe_customer_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column(
            "stripe_subscription_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True
        ),
        sa.Column("attention_reason", sa.Text(), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_orders_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["offer_revision_id"],
            ["offerrevision.id"],
            name=op.f("fk_orders_offer_revision_id_offerrevision"),
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
            name=op.f("fk_orders_professional_id_professional"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["subsidyprogramme.id"],
            name=op.f("fk_orders_programme_id_subsidyprogramme"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_orders_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_idempotency_key"), ["idempotency_key"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_orders_offer_revision_id"), ["offer_revision_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_professional_id"), ["professional_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_programme_id"), ["programme_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_stripe_subscription_id"), ["stripe_subscription_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_structure_id"), ["structure_id"], unique=False)

    op.create_table(
        "orderevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_orderevent_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orderevent")),
    )
    with op.batch_alter_table("orderevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orderevent_order_id"), ["order_id"], unique=False)

    op.create_table(
        "paymentevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stripe_event_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_paymentevent_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paymentevent")),
    )
    with op.batch_alter_table("paymentevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paymentevent_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_paymentevent_stripe_event_id"), ["stripe_event_id"], unique=True
        )

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("offer_revision_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("started_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaces_subscription_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_revision_id"],
            ["offerrevision.id"],
            name=op.f("fk_subscription_offer_revision_id_offerrevision"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_subscription_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
            name=op.f("fk_subscription_professional_id_professional"),
        ),
        sa.ForeignKeyConstraint(
            ["replaces_subscription_id"],
            ["subscription.id"],
            name=op.f("fk_subscription_replaces_subscription_id_subscription"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_subscription_structure_id_structure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
        sa.UniqueConstraint("order_id", name=op.f("uq_subscription_order_id")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_offer_revision_id"), ["offer_revision_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscription_professional_id"), ["professional_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscription_structure_id"), ["structure_id"], unique=False
        )

    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("professional_id", sa.Integer(), nullable=True),
        sa.Column("structure_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("responsible", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("terminated_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operator.id"], name=op.f("fk_mailbox_operator_id_operator")
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professional.id"],
            name=op.f("fk_mailbox_professional_id_professional"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_id"], ["structure.id"], name=op.f("fk_mailbox_structure_id_structure")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_mailbox_subscription_id_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox")),
    )
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailbox_address"), ["address"], unique=True)
        batch_op.create_index(batch_op.f("ix_mailbox_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mailbox_professional_id"), ["professional_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mailbox_structure_id"), ["structure_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mailbox_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "directoryentry",
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("mailbox_type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("pp_id_type", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("pp_id", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("idnps", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("structure_id_type", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("structure_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("civility", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("category_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("category_label", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("profession_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("profession_label", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("savoir_faire_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column(
            "savoir_faire_label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column("dematerialisation", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("structure_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "structure_trade_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column("address_l2", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("address_l3", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("address_l4_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column(
            "address_l4_complement", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True
        ),
        sa.Column(
            "address_l4_street_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
        ),
        sa.Column("address_l4_street", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True),
        sa.Column("address_l5", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("address_l6", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("department", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("responsible", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("liste_rouge", sa.Boolean(), nullable=False),
        sa.Column("preferred", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailbox.id"], name=op.f("fk_directoryentry_mailbox_id_mailbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directoryentry")),
    )
    with op.batch_alter_table("directoryentry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_directoryentry_address"), ["address"], unique=True)
        batch_op.create_index(batch_op.f("ix_directoryentry_idnps"), ["idnps"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_directoryentry_mailbox_id"), ["mailbox_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directoryentry_postal_code"), ["postal_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_directoryentry_source"), ["source"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_directoryentry_structure_id"), ["structure_id"], unique=False
        )

    op.create_table(
        "mailboxaccess",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("rpps", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("added_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailbox.id"], name=op.f("fk_mailboxaccess_mailbox_id_mailbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailboxaccess")),
        sa.UniqueConstraint("mailbox_id", "email", name=op.f("uq_mailboxaccess_mailbox_id_email")),
    )
    with op.batch_alter_table("mailboxaccess", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mailboxaccess_mailbox_id"), ["mailbox_id"], unique=False
        )

    op.create_table(
        "orderline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("mailbox_type", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("responsible", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("users", sa.JSON(), nullable=False),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailbox.id"], name=op.f("fk_orderline_mailbox_id_mailbox")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_orderline_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orderline")),
        sa.UniqueConstraint("order_id", "position", name=op.f("uq_orderline_order_id_position")),
    )
    with op.batch_alter_table("orderline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orderline_order_id"), ["order_id"], unique=False)

    op.create_table(
        "provisioningattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=True),
        sa.Column("mailbox_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("started_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailbox_id"], ["mailbox.id"], name=op.f("fk_provisioningattempt_mailbox_id_mailbox")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operator.id"],
            name=op.f("fk_provisioningattempt_operator_id_operator"),
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["orderline.id"],
            name=op.f("fk_provisioningattempt_order_line_id_orderline"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioningattempt")),
    )
    with op.batch_alter_table("provisioningattempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioningattempt_mailbox_id"), ["mailbox_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provisioningattempt_operator_id"), ["operator_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provisioningattempt_order_line_id"), ["order_line_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_constraint("fk_offer_current_revision", type_="foreignkey")
    with op.batch_alter_table("provisioningattempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioningattempt_order_line_id"))
        batch_op.drop_index(batch_op.f("ix_provisioningattempt_operator_id"))
        batch_op.drop_index(batch_op.f("ix_provisioningattempt_mailbox_id"))

    op.drop_table("provisioningattempt")
    with op.batch_alter_table("orderline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orderline_order_id"))

    op.drop_table("orderline")
    with op.batch_alter_table("mailboxaccess", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailboxaccess_mailbox_id"))

    op.drop_table("mailboxaccess")
    with op.batch_alter_table("directoryentry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directoryentry_structure_id"))
        batch_op.drop_index(batch_op.f("ix_directoryentry_source"))
        batch_op.drop_index(batch_op.f("ix_directoryentry_postal_code"))
        batch_op.drop_index(batch_op.f("ix_directoryentry_mailbox_id"))
        batch_op.drop_index(batch_op.f("ix_directoryentry_idnps"))
        batch_op.drop_index(batch_op.f("ix_directoryentry_address"))

    op.drop_table("directoryentry")
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailbox_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_mailbox_structure_id"))
        batch_op.drop_index(batch_op.f("ix_mailbox_professional_id"))
        batch_op.drop_index(batch_op.f("ix_mailbox_operator_id"))
        batch_op.drop_index(batch_op.f("ix_mailbox_address"))

    op.drop_table("mailbox")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_structure_id"))
        batch_op.drop_index(batch_op.f("ix_subscription_professional_id"))
        batch_op.drop_index(batch_op.f("ix_subscription_offer_revision_id"))

    op.drop_table("subscription")
    with op.batch_alter_table("paymentevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paymentevent_stripe_event_id"))
        batch_op.drop_index(batch_op.f("ix_paymentevent_order_id"))

    op.drop_table("paymentevent")
    with op.batch_alter_table("orderevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orderevent_order_id"))

    op.drop_table("orderevent")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_structure_id"))
        batch_op.drop_index(batch_op.f("ix_orders_stripe_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_orders_state"))
        batch_op.drop_index(batch_op.f("ix_orders_programme_id"))
        batch_op.drop_index(batch_op.f("ix_orders_professional_id"))
        batch_op.drop_index(batch_op.f("ix_orders_offer_revision_id"))
        batch_op.drop_index(batch_op.f("ix_orders_idempotency_key"))
        batch_op.drop_index(batch_op.f("ix_orders_account_id"))

    op.drop_table("orders")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_account_id"))

    op.drop_table("membership")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_structure_id"))
        batch_op.drop_index(batch_op.f("ix_activity_professional_id"))

    op.drop_table("activity")
    with op.batch_alter_table("subsidyprogramme", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidyprogramme_slug"))
        batch_op.drop_index(batch_op.f("ix_subsidyprogramme_region_code"))
        batch_op.drop_index(batch_op.f("ix_subsidyprogramme_offer_id"))

    op.drop_table("subsidyprogramme")
    with op.batch_alter_table("structure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_structure_siret"))
        batch_op.drop_index(batch_op.f("ix_structure_siren"))
        batch_op.drop_index(batch_op.f("ix_structure_finess_ej"))
        batch_op.drop_index(batch_op.f("ix_structure_finess"))
        batch_op.drop_index(batch_op.f("ix_structure_department_code"))

    op.drop_table("structure")
    with op.batch_alter_table("offerrevision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offerrevision_offer_id"))

    op.drop_table("offerrevision")
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditevent_actor_account_id"))
        batch_op.drop_index(batch_op.f("ix_auditevent_action"))

    op.drop_table("auditevent")
    with op.batch_alter_table("accounttoken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounttoken_token_hash"))

    op.drop_table("accounttoken")
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_status"))
        batch_op.drop_index(batch_op.f("ix_offer_slug"))
        batch_op.drop_index(batch_op.f("ix_offer_publisher_region_code"))
        batch_op.drop_index(batch_op.f("ix_offer_operator_id"))

    op.drop_table("offer")
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_department_region_code"))

    op.drop_table("department")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_professional_id"))
        batch_op.drop_index(batch_op.f("ix_account_email"))

    op.drop_table("account")
    op.drop_table("region")
    with op.batch_alter_table("professional", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_professional_rpps"))
        batch_op.drop_index(batch_op.f("ix_professional_idnps"))

    op.drop_table("professional")
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outboxmessage_status"))
        batch_op.drop_index(batch_op.f("ix_outboxmessage_dedup_key"))

    op.drop_table("outboxmessage")
    with op.batch_alter_table("operator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_slug"))

    op.drop_table("operator")
    with op.batch_alter_table("comparisonattribute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comparisonattribute_group"))

    op.drop_table("comparisonattribute")
