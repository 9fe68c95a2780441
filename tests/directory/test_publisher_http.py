"""The publisher over HTTP: with DIRECTORY_FHIR_BASE_URL set, its FHIR PATCHes (by business
identifier) go to another portal's own `/fhir/`, running as a separate process, which records
and removes the mailbox exactly as the national write API would be asked to."""

from __future__ import annotations

import pytest
import requests

from portal.db import create_engine
from portal.directory.importer import import_extraction
from portal.directory.publisher import (
    DirectoryPublishError,
    publish_mailbox,
    unpublish_mailbox,
)
from portal.identifiers import IDNPS_SYSTEM
from tests.accounts.live import live_portal
from tests.directory.extraction_lines import HEADER, per
from tests.directory.helpers import make_mailbox
from tests.factories import make_professional

pytestmark = pytest.mark.e2e
TOKEN = "publisher-http-test-token-0123456789"
DATABASE_NAME = "directory_publisher_http"
RPPS = "10000000433"
ADDRESS = "nouvelle.adresse@pro.mssante.fr"


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A second portal accepting FHIR writes with TOKEN, whose directory lists the holder."""
    directory = tmp_path_factory.mktemp("publisher_http")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FHIR_WRITE_TOKEN", TOKEN)
        with live_portal(directory, None, DATABASE_NAME) as portal:
            extraction = directory / "extraction.txt"
            extraction.write_text(
                f"{HEADER}\n{per('j.rivet@medecin.mssante.fr', RPPS, 'Rivet', 'Jeanne')}\n",
                encoding="utf-8",
            )
            engine = create_engine(portal.database_url)
            assert import_extraction(engine, extraction).entries_loaded == 1
            engine.dispose()
            yield portal


def remote_addresses(portal) -> list[str]:
    response = requests.get(
        f"{portal.url}/fhir/Practitioner",
        params={"identifier": f"{IDNPS_SYSTEM}|8{RPPS}"},
        headers={"Accept": "application/fhir+json"},
        timeout=10,
    )
    assert response.status_code == 200
    (entry,) = response.json()["entry"]
    return sorted(point["value"] for point in entry["resource"]["telecom"])


def publishing_settings(settings, portal, token=TOKEN):
    return settings.with_overrides(
        directory_fhir_base_url=f"{portal.url}/fhir", directory_fhir_token=token
    )


def test_publish_and_unpublish_reach_the_remote_fhir_endpoint(db_session, settings, remote):
    professional = make_professional(db_session, rpps=RPPS, first_name="Jeanne", last_name="Rivet")
    mailbox = make_mailbox(db_session, address=ADDRESS, type="PER", professional_id=professional.id)
    target = publishing_settings(settings, remote)

    publish_mailbox(db_session, mailbox_id=mailbox.id, settings=target)
    assert remote_addresses(remote) == ["j.rivet@medecin.mssante.fr", ADDRESS]
    found = requests.get(
        f"{remote.url}/api/v1/directory/search", params={"q": "nouvelle.adresse@pro"}, timeout=10
    ).json()
    assert [holder["name"] for holder in found["results"]] == ["Jeanne Rivet"]

    publish_mailbox(db_session, mailbox_id=mailbox.id, settings=target)  # again: a replace
    assert remote_addresses(remote) == ["j.rivet@medecin.mssante.fr", ADDRESS]

    unpublish_mailbox(db_session, mailbox_id=mailbox.id, settings=target)
    assert remote_addresses(remote) == ["j.rivet@medecin.mssante.fr"]


def test_a_refused_token_or_an_unknown_holder_is_an_error_and_changes_nothing(
    db_session, settings, remote
):
    professional = make_professional(db_session, rpps=RPPS, first_name="Jeanne", last_name="Rivet")
    mailbox = make_mailbox(
        db_session, address="autre@pro.mssante.fr", type="PER", professional_id=professional.id
    )
    wrong = publishing_settings(settings, remote, token="not-the-right-token-0123456789")
    with pytest.raises(DirectoryPublishError, match="refused the change"):
        publish_mailbox(db_session, mailbox_id=mailbox.id, settings=wrong)
    assert remote_addresses(remote) == ["j.rivet@medecin.mssante.fr"]

    stranger = make_professional(db_session, rpps="10000000441")
    other = make_mailbox(
        db_session, address="inconnu@pro.mssante.fr", type="PER", professional_id=stranger.id
    )
    with pytest.raises(DirectoryPublishError, match="404"):
        publish_mailbox(
            db_session, mailbox_id=other.id, settings=publishing_settings(settings, remote)
        )
