"""``mss-provisioning-v1``: client of the standard provisioning API (docs/provisioning-api.yaml).

Errors are mapped once, here: no answer, a timeout, a 5xx, 429 or an unreadable answer is
transient (retried with the same idempotency key, so nothing is created twice); a 4xx with an
error body is permanent. An operator that answers "address already taken" to a replay of our own
creation is asked for the mailbox at that address: if it carries our key, it is ours.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any
from urllib.parse import quote

import requests

from portal.provisioning.interfaces import (
    AddressAvailability,
    ConnectionSettings,
    MailboxRequest,
    MailboxUser,
    PermanentProvisioningError,
    RemoteMailbox,
    RemoteStatus,
    TransientProvisioningError,
)

log = logging.getLogger(__name__)
KIND = "mss-provisioning-v1"
DEFAULT_TIMEOUT_SECONDS = 10.0


class StandardProvisioningAdapter:
    """HTTP/JSON client of an operator implementing the standard provisioning API."""

    kind = KIND

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        http: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout_seconds
        self.http = http or http_session_for(self.base_url)
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    # --- the Protocol ----------------------------------------------------------------------

    def test_connection(self) -> None:
        self._call("GET", "/health")

    def check_address(self, address: str) -> AddressAvailability:
        data = self._call("GET", f"/addresses/{quote(address, safe='@')}")
        return AddressAvailability(
            address=str(data.get("address", address)),
            available=bool(data.get("available")),
            reason=data.get("reason"),
            message=data.get("message"),
        )

    def create_mailbox(self, request: MailboxRequest, idempotency_key: str) -> RemoteMailbox:
        try:
            data = self._call(
                "POST",
                "/mailboxes",
                json_body=request.to_json(),
                headers={"Idempotency-Key": idempotency_key},
            )
        except PermanentProvisioningError as error:
            if error.code != "address_unavailable":
                raise
            ours = self._find_ours(request.address, idempotency_key)
            if ours is None:
                raise
            log.info(
                "operator refused a replay but holds our mailbox", extra={"key": idempotency_key}
            )
            return ours
        return parse_mailbox(data)

    def get_mailbox(self, external_id: str) -> RemoteMailbox:
        return parse_mailbox(self._call("GET", f"/mailboxes/{quote(external_id, safe='')}"))

    def suspend(self, external_id: str) -> RemoteMailbox:
        return self._action(external_id, "suspend")

    def resume(self, external_id: str) -> RemoteMailbox:
        return self._action(external_id, "resume")

    def terminate(self, external_id: str) -> RemoteMailbox:
        return self._action(external_id, "terminate")

    def set_access(self, external_id: str, users: list[MailboxUser]) -> None:
        self._call(
            "PUT",
            f"/mailboxes/{quote(external_id, safe='')}/access",
            json_body={
                "users": [
                    {key: value for key, value in vars(user).items() if value is not None}
                    for user in users
                ]
            },
        )

    # --- plumbing --------------------------------------------------------------------------

    def _action(self, external_id: str, action: str) -> RemoteMailbox:
        return parse_mailbox(
            self._call("POST", f"/mailboxes/{quote(external_id, safe='')}/{action}")
        )

    def _find_ours(self, address: str, idempotency_key: str) -> RemoteMailbox | None:
        data = self._call("GET", "/mailboxes", params={"address": address})
        for item in data.get("items") or []:
            if isinstance(item, dict) and item.get("idempotency_key") == idempotency_key:
                return parse_mailbox(item)
        return None

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            response = self.http.request(
                method, url, json=json_body, headers=headers, params=params, timeout=self.timeout
            )
        except requests.Timeout as error:
            raise TransientProvisioningError(
                f"the operator did not answer in {self.timeout:g} s"
            ) from error
        except requests.RequestException as error:
            raise TransientProvisioningError(
                f"the operator cannot be reached ({type(error).__name__})"
            ) from error
        status = response.status_code
        if status >= 500 or status in (408, 425, 429):
            raise TransientProvisioningError(f"the operator answered HTTP {status}")
        data = _json_object(response)
        if status >= 400:
            if data is None or not isinstance(data.get("code"), str):
                raise TransientProvisioningError(
                    f"the operator answered HTTP {status} without explanation"
                )
            if status in (401, 403):
                raise PermanentProvisioningError(
                    "unauthorised", "The operator refused the portal's credentials."
                )
            raise PermanentProvisioningError(data["code"], str(data.get("message") or data["code"]))
        if data is None:
            raise TransientProvisioningError(
                f"the operator's answer to {method} {path} is not JSON"
            )
        return data


def http_session_for(base_url: str) -> requests.Session:
    """A ``requests`` session for one operator API, with what the environment says about it
    (proxy, CA bundle) read once.

    By default ``requests`` reads the proxy variables and looks for a ``.netrc`` file again at
    every call; the bearer token is the only credential sent here.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    session.trust_env = False
    return session


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def parse_mailbox(data: dict[str, Any]) -> RemoteMailbox:
    try:
        status = RemoteStatus(data["status"])
        address = str(data["address"])
    except (KeyError, ValueError, TypeError) as error:
        raise TransientProvisioningError(
            "the operator's mailbox description is incomplete"
        ) from error
    connection = data.get("connection") if isinstance(data.get("connection"), dict) else {}
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    return RemoteMailbox(
        external_id=str(data["id"]) if data.get("id") is not None else None,
        address=address,
        status=status,
        connection=ConnectionSettings(
            webmail_url=connection.get("webmail_url"),
            imap_host=connection.get("imap_host"),
            imap_port=_port(connection.get("imap_port")),
            smtp_host=connection.get("smtp_host"),
            smtp_port=_port(connection.get("smtp_port")),
        ),
        error_code=error.get("code"),
        error_message=error.get("message"),
    )


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and 0 < value < 65536 else None
