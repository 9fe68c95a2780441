"""The contract between the portal and the ways an operator can be reached.

Every operator is provisioned through one adapter, chosen from the database
(``Operator.adapter_kind``) by :mod:`portal.provisioning.registry`. Each adapter implements
:class:`ProvisioningAdapter` and raises only the two errors below, so the pipeline treats every
operator the same way:

- :class:`TransientProvisioningError`: try again later (timeout, 5xx, unreadable answer). The
  job is retried with back-off, and the idempotency key guarantees that a retry can never
  create a second mailbox.
- :class:`PermanentProvisioningError`: a retry will not help until someone changes something
  (address refused, contract missing). The order moves to ``needs_attention`` with the message.

One conformance suite (``tests/provisioning/test_conformance.py``) runs against every adapter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from portal.queue import TransientJobError


class RemoteStatus(StrEnum):
    """Where a mailbox stands at the operator."""

    PENDING = "pending"  # accepted; creation completes later (callback, poll or staff)
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    FAILED = "failed"  # the operator gave up: see ``error``


class TransientProvisioningError(TransientJobError):
    """The operator could not be reached or answered in a way that may change on retry."""


class PermanentProvisioningError(Exception):
    """The operator refused, for a reason a retry will not change.

    ``code`` is machine-readable (``address_unavailable``, ``invalid_address``…); ``message``
    is shown to the person who ordered and to staff.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Holder:
    """The professional a personal mailbox belongs to."""

    idnps: str
    first_name: str
    last_name: str
    rpps: str | None = None
    profession_code: str | None = None


@dataclass(frozen=True)
class Organisation:
    """The structure an organisational or application mailbox belongs to."""

    name: str
    finess: str | None = None
    siret: str | None = None


@dataclass(frozen=True)
class MailboxUser:
    name: str
    email: str
    rpps: str | None = None
    role: str = "user"


@dataclass(frozen=True)
class MailboxRequest:
    """Everything an operator needs to create one mailbox (built from an order line)."""

    address: str
    mailbox_type: str
    holder: Holder | None = None
    organisation: Organisation | None = None
    description: str | None = None
    service: str | None = None
    responsible: str | None = None
    users: tuple[MailboxUser, ...] = ()
    callback_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = data.pop("mailbox_type")
        data["structure"] = data.pop("organisation")
        data["users"] = [asdict(user) for user in self.users]
        return {key: value for key, value in data.items() if value not in (None, [], ())}


@dataclass(frozen=True)
class ConnectionSettings:
    """How the holder connects (sent in the confirmation e-mail)."""

    webmail_url: str | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None


@dataclass(frozen=True)
class RemoteMailbox:
    """A mailbox as the operator describes it."""

    external_id: str | None
    address: str
    status: RemoteStatus
    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class AddressAvailability:
    address: str
    available: bool
    reason: str | None = None  # machine-readable: taken, invalid_address, wrong_domain…
    message: str | None = None


@runtime_checkable
class ProvisioningAdapter(Protocol):
    """One way of reaching an operator. Methods raise only the two errors above."""

    kind: str

    def test_connection(self) -> None:
        """Check that the operator answers and accepts our credentials."""

    def check_address(self, address: str) -> AddressAvailability:
        """Whether ``address`` can still be created at the operator."""

    def create_mailbox(self, request: MailboxRequest, idempotency_key: str) -> RemoteMailbox:
        """Create the mailbox; the same key always designates the same mailbox."""

    def get_mailbox(self, external_id: str) -> RemoteMailbox:
        """The mailbox as the operator sees it now."""

    def suspend(self, external_id: str) -> RemoteMailbox: ...

    def resume(self, external_id: str) -> RemoteMailbox: ...

    def terminate(self, external_id: str) -> RemoteMailbox: ...

    def set_access(self, external_id: str, users: list[MailboxUser]) -> None:
        """Replace the list of people allowed to use an organisational mailbox."""
