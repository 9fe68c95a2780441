"""Steps of the provisioning journeys shared by the e2e tests (over HTTP with requests)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from bs4 import BeautifulSoup
from sqlmodel import select

from portal.app import create_app
from portal.db import session_scope
from tests.accounts import psc_flow
from tests.e2e.processes import ProvisioningStack, wait_until
from tests.factories import make_offer, make_operator


@dataclass
class FreeOffer:
    slug: str
    domain: str
    operator_id: int
    offer_id: int


def soup(response: requests.Response) -> BeautifulSoup:
    assert response.status_code == 200, (response.status_code, response.url, response.text[:500])
    return BeautifulSoup(response.text, "html.parser")


def portal_app(stack: ProvisioningStack):
    """An app of the installation, for the test to read and prepare its database."""
    return create_app(stack.settings())


def free_offer(stack: ProvisioningStack, **offer_values) -> FreeOffer:
    """A free PER offer of a new operator served by the reference operator, on a fresh domain."""
    domain = f"e2e-{uuid.uuid4().hex[:8]}.mssante.fr"
    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        operator = make_operator(
            session,
            name=f"Opérateur {domain}",
            mail_domains=[domain],
            adapter_kind="mss-provisioning-v1",
            adapter_settings={"reference_operator": True, "timeout_seconds": 10},
        )
        offer = make_offer(
            session, operator=operator, slug=f"offre-{domain.split('.')[0]}", **offer_values
        )
        return FreeOffer(slug=offer.slug, domain=domain, operator_id=operator.id, offer_id=offer.id)


def order_in_provisioning(stack: ProvisioningStack, offer: FreeOffer, local_part: str) -> int:
    """An order handed to the workers, as a submitted free order is (through Redis)."""
    from portal.catalogue.models import Offer, Operator
    from portal.provisioning.pipeline import start_provisioning
    from tests.provisioning.helpers import make_order

    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        order = make_order(
            session,
            operator=session.get(Operator, offer.operator_id),
            offer=session.get(Offer, offer.offer_id),
            address=f"{local_part}@{offer.domain}",
        )
        start_provisioning(session, order, actor="test")
        return order.id  # the job goes to Redis when the session commits


def sign_in_with_psc(stack: ProvisioningStack, professional: str) -> requests.Session:
    """A person's browser signed in through the development identity provider."""
    browser = requests.Session()
    page = soup(browser.get(f"{stack.portal_url}/connexion", timeout=10))
    start = urljoin(stack.portal_url, page.select_one("#connexion-psc")["href"])
    redirect = browser.get(start, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302, redirect.text
    landed = browser.get(psc_flow.authorize(redirect.headers["Location"], professional), timeout=10)
    assert soup(landed).select_one("#compte-connecte") is not None
    return browser


def sign_in_with_password(stack: ProvisioningStack, email: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = soup(browser.get(f"{stack.portal_url}/connexion", timeout=10))
    form = page.select_one("#email").find_parent("form")
    landed = browser.post(
        urljoin(stack.portal_url, form["action"]),
        data={
            "csrf_token": form.select_one("input[name=csrf_token]")["value"],
            "email": email,
            "password": password,
        },
        timeout=10,
    )
    assert soup(landed).select_one("#compte-connecte") is not None
    return browser


@dataclass
class Summary:
    address: str
    form: dict[str, str]
    url: str


def walk_to_summary(
    stack: ProvisioningStack, browser: requests.Session, offer: FreeOffer
) -> Summary:
    """Eligibility, then the first proposed address: the summary page's form, ready to send."""
    base = f"{stack.portal_url}/souscrire/{offer.slug}"
    assert "Vous pouvez souscrire à cette offre" in soup(browser.get(base, timeout=10)).get_text()
    page = soup(browser.get(f"{base}/adresse", timeout=10))
    address = page.select("input[name=choice]")[0]["value"]
    assert address.endswith("@" + offer.domain)
    response = browser.post(
        f"{base}/adresse",
        data={
            "csrf_token": page.select_one("input[name=csrf_token]")["value"],
            "choice": address,
            "domain": offer.domain,
        },
        timeout=10,
    )
    summary = soup(response)
    assert summary.select_one("#chosen-address").get_text() == address
    form = {
        "csrf_token": summary.select_one("input[name=csrf_token]")["value"],
        "idempotency_key": summary.select_one("input[name=idempotency_key]")["value"],
        "accept": "y",
    }
    return Summary(address=address, form=form, url=response.url)


def submit(browser: requests.Session, summary: Summary, **extra: str) -> str:
    """Send the summary form; returns the order page's URL."""
    response = browser.post(summary.url, data={**summary.form, **extra}, timeout=30)
    assert re.search(r"/commandes/\d+$", response.url), response.url
    return response.url


def order_status(browser: requests.Session, order_url: str) -> BeautifulSoup:
    return soup(browser.get(order_url, timeout=10)).select_one("#order-status")


def wait_for_status(
    browser: requests.Session, order_url: str, text: str, seconds: float = 60
) -> BeautifulSoup:
    return wait_until(
        lambda: (
            (status := order_status(browser, order_url)) is not None
            and text in status.get_text()
            and status
        ),
        seconds,
        what=f"«{text}» on {order_url}",
    )


def order_state(stack: ProvisioningStack, order_id: int) -> str:
    from portal.subscriptions.models import Order

    app = portal_app(stack)
    with app.app_context(), session_scope(app) as session:
        return session.exec(select(Order.state).where(Order.id == order_id)).one()


def directory_addresses(stack: ProvisioningStack, query: str) -> dict[str, list[str]]:
    """What the directory's search API answers for ``query``: holder name -> addresses."""
    response = requests.get(
        f"{stack.portal_url}/api/v1/directory/search", params={"q": query}, timeout=10
    )
    response.raise_for_status()
    return {
        holder["name"]: [mailbox["address"] for mailbox in holder["mailboxes"]]
        for holder in response.json()["results"]
    }
