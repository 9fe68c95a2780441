"""The directory publisher records provisioned mailboxes through the FHIR write API shape."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.directory.models import DirectoryEntry
from portal.directory.publisher import (
    DirectoryPublishError,
    publish_mailbox,
    unpublish_mailbox,
)
from tests.directory.helpers import make_mailbox, make_structure
from tests.factories import make_professional


def _entry(db_session, address):
    return db_session.exec(select(DirectoryEntry).where(DirectoryEntry.address == address)).first()


def test_personal_mailbox_is_published_with_the_professionals_identifiers(db_session):
    professional = make_professional(
        db_session, rpps="10101010101", first_name="Hélène", last_name="Lœuvre"
    )
    mailbox = make_mailbox(
        db_session,
        address="helene.loeuvre@pro.mssante.fr",
        type="PER",
        professional_id=professional.id,
    )

    entry = publish_mailbox(db_session, mailbox_id=mailbox.id)

    stored = _entry(db_session, "helene.loeuvre@pro.mssante.fr")
    assert stored is not None and stored.id == entry.id
    assert stored.source == "portal"
    assert stored.mailbox_id == mailbox.id
    assert stored.mailbox_type == "PER"
    assert stored.idnps == "810101010101"
    assert (stored.pp_id_type, stored.pp_id) == ("8", "10101010101")
    assert (stored.first_name, stored.last_name) == ("Hélène", "Lœuvre")
    assert stored.holder_key == "P:810101010101"
    assert "helene" in stored.search_text.split() and "loeuvre" in stored.search_text.split()


def test_organisational_mailbox_is_published_on_the_structure_with_its_metadata(db_session):
    structure = make_structure(db_session, name="MSP des Lilas", finess="750000001")
    mailbox = make_mailbox(
        db_session,
        address="secretariat.msp-lilas@test.mssante.fr",
        type="ORG",
        structure_id=structure.id,
        description="Secrétariat médical",
        service="Accueil",
        responsible="Dr Martin",
    )

    publish_mailbox(db_session, mailbox_id=mailbox.id)

    stored = _entry(db_session, "secretariat.msp-lilas@test.mssante.fr")
    assert (stored.structure_id_type, stored.structure_id) == ("1", "750000001")
    assert stored.structure_name == "MSP des Lilas"
    assert (stored.description, stored.service, stored.responsible) == (
        "Secrétariat médical",
        "Accueil",
        "Dr Martin",
    )
    assert stored.idnps is None
    assert stored.postal_code == "75011"


def test_structure_without_finess_is_published_by_siret(db_session):
    structure = make_structure(db_session, finess=None, siret="73282932000074", name="Pharmacie")
    mailbox = make_mailbox(
        db_session, address="officine@test.mssante.fr", type="APP", structure_id=structure.id
    )
    entry = publish_mailbox(db_session, mailbox_id=mailbox.id)
    assert (entry.structure_id_type, entry.structure_id) == ("3", "73282932000074")


def test_publishing_twice_keeps_one_entry_and_updates_metadata(db_session):
    structure = make_structure(db_session)
    mailbox = make_mailbox(
        db_session,
        address="accueil@test.mssante.fr",
        type="ORG",
        structure_id=structure.id,
        service="Accueil",
    )
    first = publish_mailbox(db_session, mailbox_id=mailbox.id)
    mailbox.service = "Accueil et orientation"
    db_session.add(mailbox)
    second = publish_mailbox(db_session, mailbox_id=mailbox.id)

    rows = db_session.exec(
        select(DirectoryEntry).where(DirectoryEntry.address == "accueil@test.mssante.fr")
    ).all()
    assert len(rows) == 1
    assert first.id == second.id
    assert rows[0].service == "Accueil et orientation"


def test_type_cannot_change_once_published(db_session):
    structure = make_structure(db_session)
    mailbox = make_mailbox(
        db_session, address="labo@test.mssante.fr", type="ORG", structure_id=structure.id
    )
    publish_mailbox(db_session, mailbox_id=mailbox.id)
    mailbox.type = "APP"
    db_session.add(mailbox)

    with pytest.raises(DirectoryPublishError, match="type cannot change"):
        publish_mailbox(db_session, mailbox_id=mailbox.id)
    assert _entry(db_session, "labo@test.mssante.fr").mailbox_type == "ORG"


def test_address_outside_mssante_is_refused_and_nothing_is_recorded(db_session):
    professional = make_professional(db_session)
    mailbox = make_mailbox(
        db_session, address="someone@gmail.com", type="PER", professional_id=professional.id
    )
    with pytest.raises(DirectoryPublishError, match="not an MSSanté address"):
        publish_mailbox(db_session, mailbox_id=mailbox.id)
    assert _entry(db_session, "someone@gmail.com") is None


def test_personal_mailbox_needs_a_professional(db_session):
    mailbox = make_mailbox(db_session, address="orphan@test.mssante.fr", type="PER")
    with pytest.raises(DirectoryPublishError, match="without a professional"):
        publish_mailbox(db_session, mailbox_id=mailbox.id)


def test_termination_removes_the_entry_and_is_idempotent(db_session):
    professional = make_professional(db_session)
    mailbox = make_mailbox(
        db_session, address="bye@test.mssante.fr", type="PER", professional_id=professional.id
    )
    publish_mailbox(db_session, mailbox_id=mailbox.id)

    unpublish_mailbox(db_session, mailbox_id=mailbox.id)
    assert _entry(db_session, "bye@test.mssante.fr") is None
    unpublish_mailbox(db_session, mailbox_id=mailbox.id)  # a retried job changes nothing
    assert _entry(db_session, "bye@test.mssante.fr") is None
