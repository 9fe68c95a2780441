"""The catalogue in Chromium: filter, choose three offers, compare, keep only the differences;
phone and desktop screenshots; axe-core finds no serious or critical accessibility problem.

The portal runs as its own process (tests.accounts.live) with the seed catalogue; the pages
are served under the portal's Content-Security-Policy."""

from __future__ import annotations

import re

import pytest

from portal.config import PROJECT_ROOT
from tests.accounts.live import live_portal

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = PROJECT_ROOT / "test-results" / "catalogue"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with live_portal(tmp_path_factory.mktemp("catalogue_e2e"), None, "catalogue_e2e") as process:
        yield process.url


def _csp_messages(page) -> list[str]:
    messages: list[str] = []
    page.on(
        "console",
        lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return messages


def test_filter_choose_three_compare_and_keep_only_differences(portal, chromium):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    csp = _csp_messages(page)
    page.goto(f"{portal}/offres")
    total = page.locator("[data-testid=result-count]").inner_text()
    page.evaluate("window.stayedOnThePage = true")

    # DSFR checkboxes are drawn by their label, which is what people click.
    page.locator("label", has_text=re.compile(r"^Organisationnelle \(ORG\)")).click()
    page.wait_for_url(re.compile(r"type=ORG"))
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=result-count]').innerText !== before",
        arg=total,
    )
    # Refreshed in place: the page (and this marker) is still the same document.
    assert page.evaluate("window.stayedOnThePage") is True
    badges = page.locator("[data-testid=offer-list] article").first.locator(".fr-badge--info")
    assert "ORG" in badges.all_inner_texts()

    cards = page.locator("[data-testid=offer-list] article")
    chosen = [cards.nth(i).get_attribute("data-offer") for i in range(3)]
    for slug in chosen:
        page.locator(f"label[for=comparer-{slug}]").click()
    assert "3 sur 4" in page.locator("[data-compare-status]").inner_text()
    page.screenshot(path=str(SHOTS / "catalogue-1280.png"), full_page=False)
    page.get_by_role("button", name="Comparer la sélection").click()

    page.wait_for_url(re.compile(r"/comparer\?offres="))
    assert page.url.endswith("/comparer?offres=" + ",".join(chosen))
    headers = page.locator(".catalogue-grid").first.locator("thead th").all_inner_texts()
    assert len(headers) == 4
    same_rows = page.locator("tr[data-differs=false]")
    assert same_rows.count() > 0 and same_rows.first.is_visible()

    page.locator("label[for=differences]").click()
    page.wait_for_url(re.compile(r"differences=1"))
    assert not same_rows.first.is_visible()
    assert page.locator("tr[data-differs=true]").first.is_visible()
    page.screenshot(path=str(SHOTS / "comparer-1280.png"), full_page=True)
    page.locator("label[for=differences]").click()
    assert same_rows.first.is_visible()
    assert csp == []
    context.close()


def test_on_a_phone_the_pages_fit_the_screen(portal, chromium):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 320, "height": 700}, is_mobile=True)
    page = context.new_page()
    for name, path in [
        ("catalogue", "/offres?region=84&type=PER"),
        ("offre", "/offres/aura-messagerie-regionale?region=84"),
        ("comparer", "/comparer?offres=mailiz,horizon-cabinet,aura-messagerie-regionale"),
        ("accueil", "/"),
    ]:
        page.goto(portal + path)
        # Only the comparison table may scroll sideways, inside its own frame.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, (path, width)
        page.screenshot(path=str(SHOTS / f"{name}-320.png"), full_page=False)
    # The filters are folded on a phone so the first offers are in view.
    page.goto(portal + "/offres")
    assert page.locator("[data-testid=offer-list] article").first.is_visible()
    assert not page.locator("#filtre-region").is_visible()
    page.get_by_text("Filtrer les offres").click()
    assert page.locator("#filtre-region").is_visible()
    context.close()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/offres",
        "/offres?region=84&type=PER&fonction=mobile_app",
        "/offres?departement=2A&type=APP&gratuit=1",
        "/offres/bfc-messagerie-comtoise?region=27",
        "/comparer?offres=mailiz,horizon-cabinet,aura-messagerie-regionale",
        "/comparer?offres=mailiz",
    ],
)
def test_axe_finds_no_serious_or_critical_violation(portal, chromium, path):
    # axe is injected as an inline script, which the portal's CSP rightly refuses: bypass it here.
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(portal + path)
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document)")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)
    context.close()
