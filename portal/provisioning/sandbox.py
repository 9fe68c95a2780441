"""The reference operator: a small separate app implementing the standard provisioning API.

``flask --app portal operator-sandbox --port N`` serves it. It keeps its mailboxes in its own
SQLite file, authenticates every call with a bearer token, and can be told to misbehave so
that the portal's handling of faults can be seen and tested (``PUT /_sandbox/faults``):

- ``latency_ms``: wait before answering every API call;
- ``fail_next``: answer HTTP 503 to the next N API calls without doing anything;
- ``timeout_next`` / ``timeout_seconds``: do the next N calls, then wait before answering
  (the client times out although the work was done);
- ``garbage_next``: do the next N calls and answer with something that is not JSON;
- ``forget_idempotency``: answer "address unavailable" to a replayed creation instead of the
  mailbox (a careless implementation);
- ``refuse_addresses``: refuse to create these addresses (a permanent refusal);
- ``async_seconds``: creations answer 202 "pending" and complete after that many seconds,
  then post an HMAC-signed status callback to the ``callback_url`` of the request.

The API itself is described in ``docs/provisioning-api.yaml``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, abort, g, jsonify, request

from portal.provisioning.signatures import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

MAILBOX_TYPES = ("PER", "ORG", "APP", "CAB")
USER_ROLES = ("user", "secretary", "medical_assistant")
LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
DEFAULT_FAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "fail_next": 0,
    "timeout_next": 0,
    "timeout_seconds": 15,
    "garbage_next": 0,
    "forget_idempotency": False,
    "refuse_addresses": [],
    "async_seconds": 0,
}
FAULT_TYPES: dict[str, type] = {
    "latency_ms": int,
    "fail_next": int,
    "timeout_next": int,
    "timeout_seconds": int,
    "garbage_next": int,
    "forget_idempotency": bool,
    "refuse_addresses": list,
    "async_seconds": int,
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS mailbox (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    request TEXT NOT NULL,
    users TEXT NOT NULL DEFAULT '[]',
    callback_url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mailbox_address ON mailbox (address);
CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SandboxStore:
    """The reference operator's own database (one SQLite file).

    One connection, opened once and shared by the server's threads one at a time (a lock):
    opening a connection per call, and closing it, made SQLite check the file and checkpoint
    its journal on every request. Other processes may open the same file beside it (WAL).
    """

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        with self.connect() as db:
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                db = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                self._db = db
            yield self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: no double creation
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def faults(self, db: sqlite3.Connection | None = None) -> dict[str, Any]:
        with contextlib.ExitStack() as stack:
            db = db or stack.enter_context(self.connect())
            row = db.execute("SELECT value FROM setting WHERE name = 'faults'").fetchone()
        return {**DEFAULT_FAULTS, **(json.loads(row["value"]) if row else {})}

    def save_faults(self, db: sqlite3.Connection, faults: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO setting (name, value) VALUES ('faults', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (json.dumps(faults),),
        )

    def take_fault(self, name: str) -> bool:
        """Use up one of the next-N faults ``name``; True if one was left."""
        with self.transaction() as db:
            faults = self.faults(db)
            if faults.get(name, 0) <= 0:
                return False
            faults[name] -= 1
            self.save_faults(db, faults)
            return True

    def mailboxes(self, address: str | None = None) -> list[sqlite3.Row]:
        with self.connect() as db:
            if address is None:
                return db.execute("SELECT * FROM mailbox ORDER BY created_at").fetchall()
            return db.execute(
                "SELECT * FROM mailbox WHERE address = ? ORDER BY created_at", (address,)
            ).fetchall()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    return response


def _connection_settings(address: str) -> dict[str, Any]:
    domain = address.rsplit("@", 1)[-1]
    return {
        "webmail_url": f"https://webmail.{domain}/",
        "imap_host": f"imap.{domain}",
        "imap_port": 993,
        "smtp_host": f"smtp.{domain}",
        "smtp_port": 587,
    }


def _representation(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "address": row["address"],
        "type": row["type"],
        "status": row["status"],
        "idempotency_key": row["idempotency_key"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "connection": _connection_settings(row["address"]),
        "error": None,
    }


def address_problem(address: Any) -> str | None:
    """Why ``address`` is not a valid MSSanté address, or None."""
    if not isinstance(address, str) or address != address.strip().lower():
        return "The address must be written in lower case without spaces."
    if len(address) > 254 or address.count("@") != 1:
        return "The address must contain one @ and at most 254 characters."
    local, domain = address.split("@")
    if not LOCAL_PART.match(local):
        return (
            "The part before @ may contain only letters a-z, digits, dots, hyphens and underscores."
        )
    if not DOMAIN.match(domain):
        return "The domain is not valid."
    return None


def _validate_person(value: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> bool:
    if not isinstance(value, dict) or set(value) - set(required) - set(optional):
        return False
    if any(not isinstance(value.get(key), str) or not value.get(key) for key in required):
        return False
    return all(value.get(key) is None or isinstance(value[key], str) for key in optional)


def creation_problem(body: Any) -> str | None:
    """What is wrong with a creation request body, or None (the schema of the API document)."""
    allowed = {
        "address", "type", "holder", "structure", "description", "service", "responsible",
        "users", "callback_url",
    }  # fmt: skip
    if not isinstance(body, dict):
        return "The body must be a JSON object."
    if set(body) - allowed:
        return f"Unknown fields: {', '.join(sorted(set(body) - allowed))}."
    if body.get("type") not in MAILBOX_TYPES:
        return "type must be one of PER, ORG, APP, CAB."
    problem = address_problem(body.get("address"))
    if problem:
        return problem
    if "holder" in body and not _validate_person(
        body["holder"], ("idnps", "first_name", "last_name"), ("rpps", "profession_code")
    ):
        return "holder must give idnps, first_name and last_name."
    if "structure" in body and not _validate_person(
        body["structure"], ("name",), ("finess", "siret")
    ):
        return "structure must give its name."
    for key in ("description", "service", "responsible", "callback_url"):
        if key in body and not isinstance(body[key], str):
            return f"{key} must be a string."
    if "users" in body and _users_problem(body["users"]):
        return _users_problem(body["users"])
    return None


def _users_problem(users: Any) -> str | None:
    if not isinstance(users, list) or len(users) > 500:
        return "users must be a list of at most 500 people."
    for user in users:
        if not _validate_person(user, ("name", "email"), ("rpps", "role")):
            return "Each user needs a name and an e-mail address."
        if user.get("role") is not None and user["role"] not in USER_ROLES:
            return "A user's role must be user, secretary or medical_assistant."
    return None


def _fingerprint(body: dict[str, Any]) -> str:
    canonical = {key: value for key, value in body.items() if key != "callback_url"}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def create_sandbox_app(*, store_path: Path, token: str, callback_secret: str) -> Flask:
    """The reference operator as a WSGI app (its own Flask app, nothing shared with the portal)."""
    app = Flask("operator_sandbox")
    store = SandboxStore(store_path)
    app.extensions["sandbox_store"] = store

    @app.before_request
    def _authenticate() -> Response | None:
        if request.path == "/" or request.path.startswith("/static"):
            return None
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            return _error(401, "unauthorised", "A valid bearer token is required.")
        if request.path.startswith("/v1/"):
            faults = g.faults = store.faults()  # read once per call
            if faults["latency_ms"]:
                time.sleep(min(faults["latency_ms"], 60_000) / 1000)
            # Counters are only written when a fault is armed, so normal calls stay read-only.
            if faults["fail_next"] and store.take_fault("fail_next"):
                return _error(503, "unavailable", "The operator is temporarily unavailable.")
            if faults["timeout_next"] and store.take_fault("timeout_next"):
                g.slow_answer = faults["timeout_seconds"]
            g.garbage = bool(faults["garbage_next"]) and store.take_fault("garbage_next")
        return None

    @app.after_request
    def _misbehave(response: Response) -> Response:
        if g.get("slow_answer"):
            time.sleep(min(int(g.slow_answer), 120))
        if g.get("garbage"):
            return Response("<html>Service Unavailable", status=200, mimetype="text/html")
        return response

    @app.errorhandler(404)
    def not_found(exc: Exception) -> Response:
        return _error(404, "not_found", "Nothing is served at this address.")

    @app.get("/")
    def home() -> Response:
        return jsonify({"name": "MSSanté reference operator", "api": "/v1"})

    @app.get("/v1/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/v1/addresses/<address>")
    def check_address(address: str) -> Response:
        if len(address) > 254:
            return _error(400, "invalid_request", "An address has at most 254 characters.")
        problem = address_problem(address)
        if problem:
            return jsonify(
                {
                    "address": address,
                    "available": False,
                    "reason": "invalid_address",
                    "message": problem,
                }
            )
        if address in store.faults()["refuse_addresses"]:
            return jsonify(
                {
                    "address": address,
                    "available": False,
                    "reason": "refused",
                    "message": "The operator does not accept this address.",
                }
            )
        live = [row for row in store.mailboxes(address) if row["status"] != "terminated"]
        if live:
            return jsonify(
                {
                    "address": address,
                    "available": False,
                    "reason": "taken",
                    "message": "This address already exists.",
                }
            )
        return jsonify({"address": address, "available": True, "reason": None, "message": None})

    @app.post("/v1/mailboxes")
    def create_mailbox() -> Response:
        key = request.headers.get("Idempotency-Key", "")
        if not 8 <= len(key) <= 200:
            return _error(
                400,
                "idempotency_key_missing",
                "An Idempotency-Key header of 8 to 200 characters is required.",
            )
        body = request.get_json(silent=True)
        problem = creation_problem(body)
        if problem:
            return _error(422, "invalid_request", problem)
        assert isinstance(body, dict)
        fingerprint = _fingerprint(body)
        faults = g.get("faults") or store.faults()
        with store.transaction() as db:
            existing = db.execute(
                "SELECT * FROM mailbox WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if existing is not None:
                if existing["fingerprint"] != fingerprint:
                    return _error(
                        409,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used for another request.",
                    )
                if faults["forget_idempotency"]:
                    return _error(409, "address_unavailable", "This address already exists.")
                return jsonify(_representation(existing))
            if body["address"] in faults["refuse_addresses"]:
                return _error(422, "address_refused", "The operator does not accept this address.")
            taken = db.execute(
                "SELECT 1 FROM mailbox WHERE address = ? AND status != 'terminated'",
                (body["address"],),
            ).fetchone()
            if taken:
                return _error(409, "address_unavailable", "This address already exists.")
            now = _now()
            delayed = faults["async_seconds"] > 0
            db.execute(
                "INSERT INTO mailbox (id, address, type, status, idempotency_key, fingerprint, request,"
                " users, callback_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"mbx_{uuid.uuid4().hex}",
                    body["address"],
                    body["type"],
                    "pending" if delayed else "active",
                    key,
                    fingerprint,
                    json.dumps(body),
                    json.dumps(body.get("users") or []),
                    body.get("callback_url"),
                    now,
                    now,
                ),
            )
            row = db.execute("SELECT * FROM mailbox WHERE idempotency_key = ?", (key,)).fetchone()
        if delayed:
            timer = threading.Timer(
                faults["async_seconds"], _complete_later, args=(store, row["id"], callback_secret)
            )
            timer.daemon = True
            timer.start()
        response = jsonify(_representation(row))
        response.status_code = 202 if delayed else 201
        return response

    @app.get("/v1/mailboxes")
    def find_mailboxes() -> Response:
        address = request.args.get("address")
        if not address or len(address) > 254:
            return _error(400, "address_missing", "Give the address to look for (?address=).")
        return jsonify({"items": [_representation(row) for row in store.mailboxes(address)]})

    def _load(db: sqlite3.Connection, mailbox_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM mailbox WHERE id = ?", (mailbox_id,)).fetchone()
        if row is None:
            abort(_error(404, "not_found", "No mailbox has this identifier."))
        return row

    @app.get("/v1/mailboxes/<mailbox_id>")
    def get_mailbox(mailbox_id: str) -> Response:
        with store.connect() as db:
            return jsonify(_representation(_load(db, mailbox_id)))

    transitions = {
        "suspend": ({"active", "suspended"}, "suspended"),
        "resume": ({"suspended", "active"}, "active"),
        "terminate": ({"active", "suspended", "terminated"}, "terminated"),
    }

    @app.post("/v1/mailboxes/<mailbox_id>/<any(suspend, resume, terminate):action>")
    def change_status(mailbox_id: str, action: str) -> Response:
        allowed, target = transitions[action]
        with store.transaction() as db:
            row = _load(db, mailbox_id)
            if row["status"] not in allowed:
                return _error(
                    409, "invalid_state", f"A {row['status']} mailbox cannot be asked to {action}."
                )
            db.execute(
                "UPDATE mailbox SET status = ?, updated_at = ? WHERE id = ?",
                (target, _now(), mailbox_id),
            )
            row = _load(db, mailbox_id)
        return jsonify(_representation(row))

    @app.get("/v1/mailboxes/<mailbox_id>/access")
    def get_access(mailbox_id: str) -> Response:
        with store.connect() as db:
            return jsonify({"users": json.loads(_load(db, mailbox_id)["users"])})

    @app.put("/v1/mailboxes/<mailbox_id>/access")
    def set_access(mailbox_id: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) != {"users"}:
            return _error(422, "invalid_request", 'The body must be {"users": [...]}.')
        problem = _users_problem(body["users"])
        if problem:
            return _error(422, "invalid_request", problem)
        with store.transaction() as db:
            row = _load(db, mailbox_id)
            if row["status"] == "terminated":
                return _error(409, "invalid_state", "A terminated mailbox has no users.")
            db.execute(
                "UPDATE mailbox SET users = ?, updated_at = ? WHERE id = ?",
                (json.dumps(body["users"]), _now(), mailbox_id),
            )
        return jsonify({"users": body["users"]})

    @app.get("/_sandbox/faults")
    def get_faults() -> Response:
        return jsonify(store.faults())

    @app.put("/_sandbox/faults")
    def put_faults() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) - set(FAULT_TYPES):
            return _error(422, "invalid_request", f"Known switches: {', '.join(FAULT_TYPES)}.")
        for name, value in body.items():
            if not isinstance(value, FAULT_TYPES[name]) or (
                FAULT_TYPES[name] is int and (isinstance(value, bool) or value < 0)
            ):
                return _error(422, "invalid_request", f"{name} has the wrong type.")
        with store.transaction() as db:
            faults = {**DEFAULT_FAULTS, **body}
            store.save_faults(db, faults)
        return jsonify(faults)

    return app


def _complete_later(store: SandboxStore, mailbox_id: str, callback_secret: str) -> None:
    """Finish an asynchronous creation, then tell the portal with a signed callback."""
    with store.transaction() as db:
        db.execute(
            "UPDATE mailbox SET status = 'active', updated_at = ? WHERE id = ? AND status = 'pending'",
            (_now(), mailbox_id),
        )
        row = db.execute("SELECT * FROM mailbox WHERE id = ?", (mailbox_id,)).fetchone()
    if row is None or not row["callback_url"]:
        return
    body = json.dumps(
        {"event": "mailbox.status", "mailbox": _representation(row), "sent_at": _now()}
    ).encode()
    try:
        requests.post(
            row["callback_url"],
            data=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(callback_secret, body),
            },
            timeout=10,
        )
    except requests.RequestException as error:
        # The portal also polls mailboxes that stay pending, so a lost callback only delays.
        log.warning(
            "status callback not delivered", extra={"mailbox": mailbox_id, "error": str(error)}
        )


def sandbox_secrets(settings: Any) -> tuple[str, str]:
    """The bearer token and callback key of this installation's reference operator.

    Derived from SECRET_KEY exactly as the portal derives them for operators marked
    ``reference_operator`` (see :mod:`portal.provisioning.registry`), so both sides agree
    without any secret written anywhere.
    """
    from portal.provisioning.registry import SANDBOX_CALLBACK_PURPOSE, SANDBOX_TOKEN_PURPOSE
    from portal.provisioning.secrets import derived_secret

    return (
        derived_secret(settings.secret_key, SANDBOX_TOKEN_PURPOSE),
        derived_secret(settings.secret_key, SANDBOX_CALLBACK_PURPOSE),
    )
