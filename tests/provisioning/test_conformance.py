"""Every registered adapter honours the same contract (interfaces.ProvisioningAdapter)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from portal.provisioning import registry
from portal.provisioning.interfaces import (
    Holder,
    MailboxRequest,
    MailboxUser,
    PermanentProvisioningError,
    ProvisioningAdapter,
    RemoteStatus,
)
from portal.provisioning.pipeline import complete_manual_creation
from portal.subscriptions.models import Mailbox
from tests.factories import make_operator
from tests.provisioning.helpers import sandbox_operator

_numbers = itertools.count(1)


@dataclass
class Case:
    adapter: ProvisioningAdapter
    domain: str
    prepare: Callable[[str], None]  # what the portal records before asking for a creation
    complete: Callable[[str], None]  # what finishes a pending creation (staff, time…)


def _standard(db_session, settings, sandbox) -> Case:
    operator = sandbox_operator(db_session, settings, sandbox)
    adapter = registry.adapter_for(operator, session=db_session, settings=settings)
    return Case(adapter, operator.mail_domains[0], lambda address: None, lambda address: None)


def _manual(db_session, settings, sandbox) -> Case:
    operator = make_operator(db_session, adapter_kind="manual")
    adapter = registry.adapter_for(operator, session=db_session, settings=settings)

    def prepare(address: str) -> None:
        db_session.add(Mailbox(address=address, type="PER", operator_id=operator.id))
        db_session.flush()

    def complete(address: str) -> None:
        mailbox = adapter._by_address(address)
        complete_manual_creation(
            db_session, mailbox_id=mailbox.id, external_id=f"ext-{mailbox.id}", actor="staff:1"
        )

    return Case(adapter, operator.mail_domains[0], prepare, complete)


BUILDERS = {"mss-provisioning-v1": _standard, "manual": _manual}


def test_every_registered_adapter_is_covered_by_this_suite():
    assert sorted(BUILDERS) == registry.adapter_kinds()


@pytest.fixture(params=sorted(BUILDERS))
def case(request, app, db_session, settings, clean_sandbox):
    with app.app_context():
        yield BUILDERS[request.param](db_session, settings, clean_sandbox)


def _request(case: Case) -> MailboxRequest:
    n = next(_numbers)
    address = f"conformite.{n}@{case.domain}"
    case.prepare(address)
    return MailboxRequest(
        address=address,
        mailbox_type="PER",
        holder=Holder(idnps=f"8100000{n:04d}", first_name="Alice", last_name="Conformité"),
    )


def _created(case: Case, request: MailboxRequest, key: str):
    remote = case.adapter.create_mailbox(request, key)
    if remote.status == RemoteStatus.PENDING:
        case.complete(request.address)
        remote = case.adapter.create_mailbox(request, key)
    return remote


def test_the_adapter_satisfies_the_protocol(case):
    assert isinstance(case.adapter, ProvisioningAdapter)
    case.adapter.test_connection()


def test_creation_gives_an_active_mailbox_with_an_identifier(case):
    request = _request(case)
    remote = _created(case, request, f"key-{request.address}")
    assert remote.status == RemoteStatus.ACTIVE
    assert remote.external_id
    assert remote.address == request.address
    assert case.adapter.get_mailbox(remote.external_id).status == RemoteStatus.ACTIVE


def test_the_same_key_always_designates_the_same_mailbox(case):
    request = _request(case)
    first = _created(case, request, f"key-{request.address}")
    again = case.adapter.create_mailbox(request, f"key-{request.address}")
    assert again.external_id == first.external_id
    assert again.status == RemoteStatus.ACTIVE


def test_an_existing_address_is_reported_unavailable(case):
    request = _request(case)
    _created(case, request, f"key-{request.address}")
    availability = case.adapter.check_address(request.address)
    assert not availability.available
    assert availability.reason == "taken"
    free = case.adapter.check_address(f"personne.encore@{case.domain}")
    assert free.available


def test_suspend_resume_terminate(case):
    request = _request(case)
    remote = _created(case, request, f"key-{request.address}")
    assert case.adapter.suspend(remote.external_id).status == RemoteStatus.SUSPENDED
    assert case.adapter.resume(remote.external_id).status == RemoteStatus.ACTIVE
    assert case.adapter.terminate(remote.external_id).status == RemoteStatus.TERMINATED


def test_access_lists_are_accepted(case):
    request = _request(case)
    remote = _created(case, request, f"key-{request.address}")
    case.adapter.set_access(
        remote.external_id, [MailboxUser(name="Paul Secrétaire", email="paul@example.org")]
    )


def test_an_unknown_mailbox_is_a_permanent_not_found(case):
    with pytest.raises(PermanentProvisioningError) as raised:
        case.adapter.get_mailbox("does-not-exist")
    assert raised.value.code == "not_found"
