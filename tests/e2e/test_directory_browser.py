"""The directory in Chromium: the portal and the development identity provider run as separate
processes; the directory is loaded with the real `flask directory import` command. Searching
names with and without accents and with a typo, on a phone-sized screen, then marking a
preferred address as a professional signed in through the identity provider."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from portal.config import PROJECT_ROOT
from tests.accounts.live import live_identity_provider, live_portal
from tests.directory.extraction_lines import HEADER, org, per

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DATABASE_NAME = "directory_e2e"
CLAIRE = "10100000011"  # RPPS of the demo professional "medecin-msp" (Claire MARTIN)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("directory_e2e")
    with live_identity_provider() as idp, live_portal(directory, idp, DATABASE_NAME) as portal:
        extraction = directory / "extraction.txt"
        extraction.write_text(
            "\n".join(
                [
                    HEADER,
                    per("helene.loeuvre@medecin.mssante.fr", "10000000011", "Lœuvre", "Hélène"),
                    per(
                        "marie.dupont@infirmier.mssante.fr",
                        "10000000021",
                        "Dupont",
                        "Marie",
                        profession_code="60",
                        profession_label="Infirmier",
                    ),
                    per("claire.martin@medecin.mssante.fr", CLAIRE, "MARTIN", "Claire"),
                    per("c.martin@msp-tilleuls.mssante.fr", CLAIRE, "MARTIN", "Claire"),
                    org(
                        "accueil@msp-tilleuls.mssante.fr",
                        "690000014",
                        "Maison de santé des Tilleuls",
                    ),
                ]
            )
            + "\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PSC_")}
        env.update(PORTAL_ENV="test", DATABASE_URL=portal.database_url)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "portal",
                "directory",
                "import",
                str(extraction),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Entries loaded: 5" in result.stdout
        yield idp, portal


def search(page, text: str) -> list[str]:
    page.fill("#q", text)
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_selector("#results-title")
    return [name.strip() for name in page.locator(".portal-directory-holder h3").all_inner_texts()]


def test_searching_names_with_and_without_accents_and_a_typo_on_a_phone(servers, chromium):
    _idp, portal = servers
    context = chromium.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{portal.url}/annuaire")

    assert search(page, "helene loeuvre") == ["Hélène Lœuvre"]
    assert search(page, "Hélène Lœuvre") == ["Hélène Lœuvre"]
    assert search(page, "Dupnot") == ["Marie Dupont"]
    assert "Résultats incluant aussi dupont" in page.locator("main").inner_text()
    assert "q=Dupnot" in page.url  # a shareable GET URL, no JavaScript needed
    card = page.locator(".portal-directory-holder").first
    assert "marie.dupont@infirmier.mssante.fr" in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()


def test_a_signed_in_professional_marks_a_preferred_address(servers, chromium):
    _idp, portal = servers
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{portal.url}/annuaire/mes-adresses")
    page.wait_for_url("**/connexion?next=*")
    page.click("#connexion-psc")
    page.get_by_label("Claire MARTIN").check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{portal.url}/annuaire/mes-adresses")

    # The DSFR draws its own radio: people click the label, as here.
    page.locator(".fr-radio-group label", has_text="c.martin@msp-tilleuls.mssante.fr").click()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.wait_for_selector(".fr-alert--success")
    assert "visibles dans l’annuaire" in page.locator(".fr-alert--success").inner_text()
    assert page.get_by_role("radio", name="c.martin@msp-tilleuls.mssante.fr").is_checked()

    page.goto(f"{portal.url}/annuaire")
    assert search(page, "claire martin") == ["Claire MARTIN"]
    preferred = page.locator(".portal-directory-preferred")
    assert preferred.count() == 1
    assert "c.martin@msp-tilleuls.mssante.fr" in preferred.inner_text()
    assert "Adresse préférée" in preferred.text_content()  # badges are drawn in capitals
    context.close()
