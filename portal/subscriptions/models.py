"""Orders (with their lines and events), subscriptions, mailboxes and who may use them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, UniqueConstraint

from portal.db import created_at_field, json_field, text_field, timestamp_field


class OrderState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    AWAITING_PAYMENT = "awaiting_payment"
    PAYMENT_PENDING = "payment_pending"
    PAID = "paid"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    NEEDS_ATTENTION = "needs_attention"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    SUSPENDED = "suspended"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


class PaymentMethod(StrEnum):
    NONE = "none"  # free or subsidised to zero
    CARD = "card"
    SEPA_DEBIT = "sepa_debit"
    PURCHASE_ORDER = "purchase_order"


class MailboxState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Order(SQLModel, table=True):
    __tablename__ = "orders"  # "order" is a reserved word in SQL

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=80, unique=True, index=True)
    account_id: int = Field(foreign_key="account.id", index=True)  # who ordered
    professional_id: int | None = Field(default=None, foreign_key="professional.id", index=True)
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    offer_revision_id: int = Field(foreign_key="offerrevision.id", index=True)
    programme_id: int | None = Field(default=None, foreign_key="subsidyprogramme.id", index=True)
    state: str = Field(default=OrderState.DRAFT, max_length=30, index=True)
    state_changed_at: dt.datetime = created_at_field()
    quote: dict = json_field()  # the accepted quote, frozen
    total_cents: int = 0  # first period, including VAT
    currency: str = Field(default="EUR", max_length=3)
    payment_method: str = Field(default=PaymentMethod.NONE, max_length=20)
    purchase_order_number: str | None = Field(default=None, max_length=60)
    stripe_customer_id: str | None = Field(default=None, max_length=80)
    stripe_subscription_id: str | None = Field(default=None, max_length=80, index=True)
    attention_reason: str | None = text_field()
    locale: str = Field(default="fr", max_length=5)
    # Where the "your mailbox is ready" e-mail goes when the account has no e-mail address
    # (people signed in with Pro Santé Connect give one on the summary page).
    contact_email: str | None = Field(default=None, max_length=254)
    created_at: dt.datetime = created_at_field()
    submitted_at: dt.datetime | None = timestamp_field()
    # A subsidy for a limited time: when it ends, and when Stripe was told to bill the full
    # price from then on (portal.payments.checkout.end_subsidised_prices).
    subsidy_ends_at: dt.datetime | None = timestamp_field(index=True)
    full_price_from: dt.datetime | None = timestamp_field()
    # A switch of offer: the subscription to terminate once this order's mailbox is active.
    # orders and subscriptions point at each other: this key is added after both tables exist.
    replaces_subscription_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey(
                "subscription.id",
                use_alter=True,
                name="fk_orders_replaces_subscription_id_subscription",
            ),
            nullable=True,
        ),
    )

    def contact_address(self, account) -> str | None:
        """Where e-mails about this order go: the address given with the order, else the
        ordering account's (``account``: the order's Account, or None)."""
        return self.contact_email or (account.email if account else None)


class OrderLine(SQLModel, table=True):
    """One requested mailbox. Its key makes operator-side creation idempotent."""

    __table_args__ = (UniqueConstraint("order_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    position: int = 1
    mailbox_type: str = Field(max_length=3)
    address: str = Field(max_length=254)
    description: str | None = Field(default=None, max_length=300)
    service: str | None = Field(default=None, max_length=200)
    responsible: str | None = Field(default=None, max_length=200)
    users: list = json_field(list)  # people allowed to use an ORG/APP mailbox
    mailbox_id: int | None = Field(default=None, foreign_key="mailbox.id")


class OrderEvent(SQLModel, table=True):
    """Every state transition, with who caused it and why."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    from_state: str | None = Field(default=None, max_length=30)
    to_state: str = Field(max_length=30)
    actor: str = Field(max_length=120)  # "account:12", "system", "operator:medisante"
    reason: str | None = text_field()
    created_at: dt.datetime = created_at_field()


class Subscription(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", unique=True)
    offer_revision_id: int = Field(foreign_key="offerrevision.id", index=True)
    professional_id: int | None = Field(default=None, foreign_key="professional.id", index=True)
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    state: str = Field(default="active", max_length=20)  # active | suspended | terminated
    started_at: dt.datetime = created_at_field()
    ends_at: dt.datetime | None = timestamp_field()
    replaces_subscription_id: int | None = Field(default=None, foreign_key="subscription.id")


class Mailbox(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=254, unique=True, index=True)  # immutable once created
    type: str = Field(max_length=3)  # immutable once created
    operator_id: int = Field(foreign_key="operator.id", index=True)
    subscription_id: int | None = Field(default=None, foreign_key="subscription.id", index=True)
    professional_id: int | None = Field(default=None, foreign_key="professional.id", index=True)
    structure_id: int | None = Field(default=None, foreign_key="structure.id", index=True)
    external_id: str | None = Field(default=None, max_length=120)
    state: str = Field(default=MailboxState.PENDING, max_length=20)
    description: str | None = Field(default=None, max_length=300)
    service: str | None = Field(default=None, max_length=200)
    responsible: str | None = Field(default=None, max_length=200)
    # How the holder connects (webmail, IMAP/SMTP), as the operator described it.
    connection: dict = json_field()
    created_at: dt.datetime = created_at_field()
    activated_at: dt.datetime | None = timestamp_field()
    terminated_at: dt.datetime | None = timestamp_field()


class MailboxAccess(SQLModel, table=True):
    """A person allowed to use an organisational or applicative mailbox."""

    __table_args__ = (UniqueConstraint("mailbox_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    rpps: str | None = Field(default=None, max_length=11)
    role: str = Field(default="user", max_length=30)  # user | secretary | medical_assistant
    added_at: dt.datetime = created_at_field()
