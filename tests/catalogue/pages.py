"""Reading the catalogue's pages the way a visitor does: from the HTML."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from sqlmodel import Session, select

from portal.catalogue.models import Offer, OfferRevision, OfferStatus


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def card_slugs(page: BeautifulSoup) -> list[str]:
    return [card["data-offer"] for card in page.select("[data-testid=offer-list] article")]


def result_total(page: BeautifulSoup) -> int:
    heading = page.select_one("[data-testid=result-count]").get_text(" ", strip=True)
    return int(re.match(r"(\d+)", heading).group(1))


def all_result_slugs(client, query: str) -> list[str]:
    """Every offer the catalogue lists for ``query``, following the pages."""
    slugs, number = [], 1
    while True:
        page = soup(client.get(f"/offres?{query}&page={number}"))
        slugs += card_slugs(page)
        if not page.select_one("a.fr-pagination__link--next[href]"):
            return slugs
        number += 1


def facet_count(page: BeautifulSoup, param: str, value: str) -> int:
    element = page.select_one(f'[data-facet="{param}:{value}"]')
    if element is None:
        element = page.select_one(f'select[name="{param}"] option[value="{value}"]')
    return int(re.search(r"\((\d+)\)\s*$", element.get_text(strip=True)).group(1))


def notices(page: BeautifulSoup) -> list[str]:
    box = page.select_one("[data-testid=notices]")
    return [li.get_text(" ", strip=True) for li in box.select("li")] if box else []


def published(session: Session) -> list[tuple[Offer, OfferRevision]]:
    return session.exec(
        select(Offer, OfferRevision)
        .join(OfferRevision, OfferRevision.id == Offer.current_revision_id)
        .where(Offer.status == OfferStatus.PUBLISHED)
    ).all()


def monthly_cents(revision: OfferRevision) -> int:
    if revision.billing_period == "year":
        return revision.price_cents // 12
    return revision.price_cents
