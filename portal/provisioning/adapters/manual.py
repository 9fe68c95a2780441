"""``manual``: operators without an API. Each request becomes work for the operator's staff.

Creating a mailbox answers "pending": the order line waits in the operator back-office until
staff create the mailbox on their side and enter its identifier
(:func:`portal.provisioning.pipeline.complete_manual_creation`). Suspension, resumption and
termination are recorded as work items too, and answered with the state the staff are asked
to apply. The portal's own records are the source for what this adapter reads.
"""

from __future__ import annotations

from sqlmodel import Session, select

from portal.provisioning.interfaces import (
    AddressAvailability,
    MailboxRequest,
    MailboxUser,
    PermanentProvisioningError,
    RemoteMailbox,
    RemoteStatus,
)
from portal.subscriptions.models import Mailbox, MailboxState

KIND = "manual"
_REMOTE = {
    MailboxState.PENDING: RemoteStatus.PENDING,
    MailboxState.ACTIVE: RemoteStatus.ACTIVE,
    MailboxState.SUSPENDED: RemoteStatus.SUSPENDED,
    MailboxState.TERMINATED: RemoteStatus.TERMINATED,
}


class ManualProvisioningAdapter:
    """Provisioning done by the operator's staff from their back-office."""

    kind = KIND

    def __init__(self, *, session: Session, operator_id: int):
        self.session = session
        self.operator_id = operator_id

    def test_connection(self) -> None:
        return None  # nothing to reach: the operator's staff read the back-office

    def check_address(self, address: str) -> AddressAvailability:
        existing = self._by_address(address)
        if existing is not None and existing.state != MailboxState.TERMINATED:
            return AddressAvailability(address, False, "taken", "This address already exists.")
        return AddressAvailability(address, True)

    def create_mailbox(self, request: MailboxRequest, idempotency_key: str) -> RemoteMailbox:
        mailbox = self._by_address(request.address)
        if mailbox is not None and mailbox.external_id:
            return self._remote(mailbox)
        return RemoteMailbox(external_id=None, address=request.address, status=RemoteStatus.PENDING)

    def get_mailbox(self, external_id: str) -> RemoteMailbox:
        return self._remote(self._by_external_id(external_id))

    def suspend(self, external_id: str) -> RemoteMailbox:
        return self._asked(external_id, RemoteStatus.SUSPENDED)

    def resume(self, external_id: str) -> RemoteMailbox:
        return self._asked(external_id, RemoteStatus.ACTIVE)

    def terminate(self, external_id: str) -> RemoteMailbox:
        return self._asked(external_id, RemoteStatus.TERMINATED)

    def set_access(self, external_id: str, users: list[MailboxUser]) -> None:
        self._by_external_id(external_id)  # the list itself is kept in MailboxAccess

    def _asked(self, external_id: str, status: RemoteStatus) -> RemoteMailbox:
        mailbox = self._by_external_id(external_id)
        return RemoteMailbox(external_id=external_id, address=mailbox.address, status=status)

    def _remote(self, mailbox: Mailbox) -> RemoteMailbox:
        return RemoteMailbox(
            external_id=mailbox.external_id,
            address=mailbox.address,
            status=_REMOTE.get(MailboxState(mailbox.state), RemoteStatus.PENDING),
        )

    def _by_address(self, address: str) -> Mailbox | None:
        return self.session.exec(
            select(Mailbox).where(
                Mailbox.address == address.lower(), Mailbox.operator_id == self.operator_id
            )
        ).first()

    def _by_external_id(self, external_id: str) -> Mailbox:
        mailbox = self.session.exec(
            select(Mailbox).where(
                Mailbox.external_id == external_id, Mailbox.operator_id == self.operator_id
            )
        ).first()
        if mailbox is None:
            raise PermanentProvisioningError(
                "not_found", "This mailbox is unknown to the operator."
            )
        return mailbox
