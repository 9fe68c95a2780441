"""A signed-in professional marks a preferred address and sets liste rouge on their own entries."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.accounts.models import Account
from portal.audit import AuditEvent
from portal.directory.models import DirectoryEntry
from tests.accounts.helpers import sign_in_client
from tests.directory.helpers import make_entry
from tests.factories import make_professional


def soup(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def csrf(client, url="/annuaire/mes-adresses"):
    return soup(client.get(url)).find("input", attrs={"name": "csrf_token"})["value"]


@pytest.fixture
def marie(db_session, client):
    professional = make_professional(
        db_session, rpps="10000000501", first_name="Marie", last_name="Dupont"
    )
    account = Account(display_name="Marie Dupont", professional_id=professional.id)
    db_session.add(account)
    for address in ("marie@medecin.mssante.fr", "m.dupont@autre.mssante.fr"):
        make_entry(
            db_session,
            address=address,
            idnps=professional.idnps,
            first_name="Marie",
            last_name="Dupont",
        )
    make_entry(
        db_session, address="other@medecin.mssante.fr", idnps="810000000999", last_name="Autre"
    )
    db_session.commit()
    sign_in_client(client, account)
    return account


def entry(db_session, address):
    db_session.expire_all()
    return db_session.exec(select(DirectoryEntry).where(DirectoryEntry.address == address)).one()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/annuaire/mes-adresses")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


def test_professional_sees_all_their_addresses(client, marie):
    page = soup(client.get("/annuaire/mes-adresses"))
    radios = [r["value"] for r in page.select("input[name=preferred]")]
    assert radios == ["m.dupont@autre.mssante.fr", "marie@medecin.mssante.fr"]
    assert "other@medecin.mssante.fr" not in page.get_text()
    for radio in page.select("input[name=preferred]"):
        assert page.find("label", attrs={"for": radio["id"]})  # every control is labelled


def test_marking_preferred_is_saved_audited_and_visible_in_search(client, db_session, marie):
    response = client.post(
        "/annuaire/mes-adresses",
        data={"csrf_token": csrf(client), "preferred": "marie@medecin.mssante.fr"},
    )
    assert response.status_code == 302
    flashed = soup(client.get(response.headers["Location"])).select_one(".fr-alert--success")
    assert "enregistrés" in flashed.get_text()
    assert entry(db_session, "marie@medecin.mssante.fr").preferred is True
    assert entry(db_session, "m.dupont@autre.mssante.fr").preferred is False
    event = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "directory_preferences")
    ).one()
    assert event.actor_account_id == marie.id and event.target_id == "810000000501"
    results = soup(client.get("/annuaire?q=marie+dupont"))
    preferred = results.select_one(".portal-directory-preferred")
    assert "marie@medecin.mssante.fr" in preferred.get_text()


def test_liste_rouge_hides_the_address_from_search(client, db_session, marie):
    client.post(
        "/annuaire/mes-adresses",
        data={
            "csrf_token": csrf(client),
            "preferred": "marie@medecin.mssante.fr",
            "liste_rouge": "m.dupont@autre.mssante.fr",
        },
    )
    assert entry(db_session, "m.dupont@autre.mssante.fr").liste_rouge is True
    text = client.get("/annuaire?q=dupont").get_data(as_text=True)
    assert "m.dupont@autre.mssante.fr" not in text and "marie@medecin.mssante.fr" in text


def test_preferred_on_liste_rouge_is_refused_and_the_form_keeps_the_choice(
    client, db_session, marie
):
    response = client.post(
        "/annuaire/mes-adresses",
        data={
            "csrf_token": csrf(client),
            "preferred": "marie@medecin.mssante.fr",
            "liste_rouge": "marie@medecin.mssante.fr",
        },
    )
    assert response.status_code == 400
    page = soup(response)
    assert "ne peut pas être en liste rouge" in page.select_one(".fr-alert--error").get_text()
    assert page.find(
        "input", attrs={"name": "preferred", "value": "marie@medecin.mssante.fr"}
    ).has_attr("checked")
    assert page.find(
        "input", attrs={"name": "liste_rouge", "value": "marie@medecin.mssante.fr"}
    ).has_attr("checked")
    assert entry(db_session, "marie@medecin.mssante.fr").preferred is False


def test_someone_elses_address_cannot_be_changed(client, db_session, marie):
    response = client.post(
        "/annuaire/mes-adresses",
        data={"csrf_token": csrf(client), "liste_rouge": "other@medecin.mssante.fr"},
    )
    assert response.status_code == 400
    assert entry(db_session, "other@medecin.mssante.fr").liste_rouge is False


def test_post_without_csrf_token_is_refused(client, db_session, marie):
    response = client.post("/annuaire/mes-adresses", data={"preferred": "marie@medecin.mssante.fr"})
    assert response.status_code == 400
    assert entry(db_session, "marie@medecin.mssante.fr").preferred is False


def test_an_account_without_professional_is_told_why(client, db_session):
    account = Account(display_name="Agent ARS", email="agent@ars.example")
    db_session.add(account)
    db_session.commit()
    sign_in_client(client, account)
    response = client.get("/annuaire/mes-adresses")
    assert response.status_code == 403
    assert "Pro Santé Connect" in soup(response).get_text()
