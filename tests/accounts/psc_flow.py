"""Drive a Pro Santé Connect sign-in through the development identity provider, over HTTP."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from bs4 import BeautifulSoup


def start(client, next_path: str | None = None):
    """Click "Se connecter avec Pro Santé Connect": the portal's redirect to the provider."""
    url = "/connexion/psc" + (f"?next={next_path}" if next_path else "")
    response = client.get(url)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.location


def authorize(authorize_url: str, professional: str = "medecin-msp", fault: str = "") -> str:
    """Pick a demo professional on the provider's page; returns the callback URL it sends back."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    answer = requests.post(
        authorize_url,
        data={"professional": professional, "fault": fault},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def callback_path(callback_url: str) -> str:
    parts = urlsplit(callback_url)
    return f"{parts.path}?{parts.query}"


def sign_in(client, professional: str = "medecin-msp", fault: str = "", next_path=None):
    """The whole journey; returns the portal's answer to the provider's callback."""
    callback = authorize(start(client, next_path), professional, fault)
    return client.get(callback_path(callback))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def csrf_token(client, path: str = "/") -> str:
    field = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser").select_one(
        "input[name=csrf_token]"
    )
    assert field is not None, "no CSRF token on the page"
    return field["value"]
