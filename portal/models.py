"""Every table of the portal, imported in one place for Alembic and the tests."""

from portal.accounts.models import (
    Account,
    AccountToken,
    Activity,
    Membership,
    Professional,
    Structure,
)
from portal.audit import AuditEvent
from portal.catalogue.models import (
    ComparisonAttribute,
    Department,
    Offer,
    OfferRevision,
    Operator,
    Region,
)
from portal.directory.models import DirectoryEntry, DirectoryTerm
from portal.mail.models import OutboxMessage
from portal.observatory.models import OfferViewCount
from portal.payments.models import PaymentEvent
from portal.provisioning.models import ProvisioningAttempt
from portal.regions.models import BulkUpload, SubsidyProgramme
from portal.subscriptions.models import (
    Mailbox,
    MailboxAccess,
    Order,
    OrderEvent,
    OrderLine,
    Subscription,
)

__all__ = [
    "Account",
    "AccountToken",
    "Activity",
    "AuditEvent",
    "BulkUpload",
    "ComparisonAttribute",
    "Department",
    "DirectoryEntry",
    "DirectoryTerm",
    "Mailbox",
    "MailboxAccess",
    "Membership",
    "Offer",
    "OfferRevision",
    "OfferViewCount",
    "Operator",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OutboxMessage",
    "PaymentEvent",
    "Professional",
    "ProvisioningAttempt",
    "Region",
    "Structure",
    "Subscription",
    "SubsidyProgramme",
]
