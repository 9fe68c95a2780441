"""Bench only: an order's submission, creation job and e-mail written as SQL text for psycopg.

What decision 0006 calls option 1, built to measure it instead of estimating it. It is NOT a
second pipeline: it handles only the bench's own orders (one PER line, a professional we know,
an operator that answers at once, no directory entry yet, PostgreSQL) and stops with an error
on anything else. It writes the same rows as :mod:`portal.provisioning.pipeline` does for such
an order (the mailbox, the attempt, the subscription, the directory entry and its typo terms,
the order's state and event, the outbox message, then the message sent), with the same
indexing functions and the same templates, in six statements instead of twenty:

- submission: one statement (the order's state and its event), or the portal's own;
- creation job: one read (the order locked, its line, operator, professional and account), one
  reservation of the address, the operator's HTTP call, then one statement writing the rest;
- e-mail (a follow-up, as in the pipeline): one read, SMTP, one update.

``bench/provisioning.py --sql-sketch`` times it beside the pipeline.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from psycopg.types.json import Json
from sqlmodel import Session

from portal.accounts.models import Professional
from portal.catalogue.models import Operator
from portal.db import session_scope
from portal.directory.indexing import index_values, typo_terms
from portal.directory.writes import practitioner_holder
from portal.mail.services import build_email, deliver_smtp, render_email
from portal.provisioning.interfaces import Holder, MailboxRequest, RemoteStatus
from portal.provisioning.pipeline import line_idempotency_key, ready_email_context
from portal.queue import enqueue
from portal.subscriptions import states
from portal.subscriptions.models import Order, OrderLine, OrderState

# The transitions these statements write, checked against the state machine at import.
states.check_path(OrderState.SUBMITTED, [OrderState.PROVISIONING, OrderState.ACTIVE])

SUBMIT = """
WITH moved AS (
  UPDATE orders SET state = 'provisioning', state_changed_at = %(now)s, attention_reason = NULL
  WHERE id = %(order_id)s AND state = 'submitted' RETURNING id
)
INSERT INTO orderevent (order_id, from_state, to_state, actor, created_at)
SELECT id, 'submitted', 'provisioning', %(actor)s, %(now)s FROM moved RETURNING order_id
"""

READ = """
SELECT o.id AS order_id, o.state, o.idempotency_key, o.locale, o.contact_email, o.professional_id,
       o.structure_id, o.offer_revision_id, o.replaces_subscription_id,
       l.id AS line_id, l.position, lower(l.address) AS address, l.mailbox_type, l.mailbox_id,
       op.id AS operator_id, op.slug, op.name AS operator_name, op.support_hours,
       p.idnps, p.rpps, p.civility, p.first_name, p.last_name, p.profession_code,
       p.category_code, p.savoir_faire_code, a.display_name, a.email AS account_email,
       (SELECT count(*) FROM orderline WHERE order_id = o.id) AS lines,
       (SELECT d.id FROM directoryentry d WHERE d.address = lower(l.address)) AS listed
FROM orders o
JOIN orderline l ON l.order_id = o.id
JOIN offerrevision r ON r.id = o.offer_revision_id
JOIN offer f ON f.id = r.offer_id
JOIN operator op ON op.id = f.operator_id
LEFT JOIN professional p ON p.id = o.professional_id
LEFT JOIN account a ON a.id = o.account_id
WHERE o.id = %(order_id)s
FOR UPDATE OF o
"""

RESERVE = """
WITH reserved AS (
  INSERT INTO mailbox (address, type, operator_id, professional_id, state, connection,
                       created_at)
  VALUES (%(address)s, %(type)s, %(operator_id)s, %(professional_id)s, 'pending', '{}', %(now)s)
  ON CONFLICT (address) DO NOTHING RETURNING id
)
UPDATE orderline SET mailbox_id = (SELECT id FROM reserved) WHERE id = %(line_id)s
RETURNING mailbox_id
"""


_PROFESSIONAL_COLUMNS = (
    "idnps", "rpps", "civility", "first_name", "last_name", "profession_code", "category_code",
    "savoir_faire_code",
)  # fmt: skip
# The directory entry's columns that the publisher fills for a new PER mailbox.
ENTRY_COLUMNS = (
    "address", "mailbox_type", "idnps", "pp_id_type", "pp_id", "civility", "last_name",
    "first_name", "profession_code", "category_code", "savoir_faire_code", "liste_rouge",
    "preferred", "holder_key", "search_text", "search_prefixes", "source", "mailbox_id",
    "created_at", "updated_at",
)  # fmt: skip
# Column names from the constant above, values as parameters.
ACTIVATE = f"""
WITH attempt AS (
  INSERT INTO provisioningattempt (order_line_id, mailbox_id, operator_id, action,
                                   idempotency_key, outcome, started_at, finished_at)
  VALUES (%(line_id)s, %(mailbox_id)s, %(operator_id)s, 'create', %(key)s, 'success',
          %(started)s, %(now)s)
  RETURNING id
), subscription AS (
  INSERT INTO subscription (order_id, offer_revision_id, professional_id, state, started_at)
  VALUES (%(order_id)s, %(revision_id)s, %(professional_id)s, 'active', %(now)s) RETURNING id
), mailbox AS (
  UPDATE mailbox SET external_id = %(external_id)s, state = 'active',
    connection = %(connection)s, activated_at = %(now)s,
    subscription_id = (SELECT id FROM subscription)
  WHERE id = %(mailbox_id)s RETURNING id
), entry AS (
  INSERT INTO directoryentry ({", ".join(ENTRY_COLUMNS)})
  VALUES ({", ".join(f"%(entry_{column})s" for column in ENTRY_COLUMNS)}) RETURNING id
), terms AS (
  INSERT INTO directoryterm (term, reversed_term)
  SELECT term, reverse(term) FROM unnest(%(terms)s::text[]) AS term
  ON CONFLICT (term) DO NOTHING
), activated AS (
  UPDATE orders SET state = 'active', state_changed_at = %(now)s
  WHERE id = %(order_id)s RETURNING id
), event AS (
  INSERT INTO orderevent (order_id, from_state, to_state, actor, reason, created_at)
  SELECT id, 'provisioning', 'active', 'system', %(reason)s, %(now)s FROM activated
  RETURNING id
)
INSERT INTO outboxmessage (dedup_key, to_address, subject, body_text, body_html, locale,
                           status, attempts, created_at)
SELECT %(dedup_key)s, %(to)s, %(subject)s, %(text)s, %(html)s, %(locale)s, 'pending', 0,
       %(now)s
FROM attempt, mailbox, entry, event
ON CONFLICT (dedup_key) DO NOTHING RETURNING id
"""  # noqa: S608


def _cursor(session: Session):
    return session.connection().connection.driver_connection.cursor()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def submit_to_sketch(session: Session, order_id: int) -> None:
    """The portal's submission (the state machine, through the ORM), queuing the sketch's job."""
    from portal.subscriptions.models import Order

    order = session.get(Order, order_id)
    states.transition(session, order, OrderState.PROVISIONING, actor="bench")
    enqueue(sketch_order, order_id, queue="provisioning", session=session)


def submit_in_sql(session: Session, order_id: int) -> None:
    """What ``start_provisioning`` does for a submitted order, in one statement."""
    cursor = _cursor(session)
    cursor.execute(SUBMIT, {"now": _now(), "order_id": order_id, "actor": "bench"})
    if cursor.fetchone() is None:
        raise RuntimeError(f"order {order_id} is not a submitted order")
    enqueue(sketch_order, order_id, queue="provisioning", session=session)


def sketch_order(order_id: int) -> None:
    """The creation job and its activation, for one of the bench's orders."""
    from bench.provisioning import reference_adapter

    settings = current_app.config["PORTAL_SETTINGS"]
    with session_scope() as session:
        cursor = _cursor(session)
        cursor.execute(READ, {"order_id": order_id})
        row = cursor.fetchone()
        if row is None:
            return
        order = dict(zip([column.name for column in cursor.description], row, strict=True))
        if order["state"] != OrderState.PROVISIONING:
            return
        if (order["lines"], order["mailbox_type"], order["listed"]) != (1, "PER", None) or (
            order["idnps"] is None or order["structure_id"] or order["replaces_subscription_id"]
        ):
            raise RuntimeError(f"order {order_id} is not one of the bench's simple orders")
        now = _now()
        cursor.execute(RESERVE, {**order, "type": order["mailbox_type"], "now": now})
        mailbox_id = cursor.fetchone()[0]
        if mailbox_id is None:
            raise RuntimeError(f"{order['address']} is taken")
        # The portal's own rules, on unsaved objects holding what the read returned.
        key = line_idempotency_key(
            Order(idempotency_key=order["idempotency_key"]), OrderLine(position=order["position"])
        )
        professional = Professional(**{name: order[name] for name in _PROFESSIONAL_COLUMNS})
        holder = Holder(
            idnps=order["idnps"],
            first_name=order["first_name"],
            last_name=order["last_name"],
            rpps=order["rpps"],
            profession_code=order["profession_code"],
        )
        request = MailboxRequest(
            address=order["address"],
            mailbox_type="PER",
            holder=holder,
            callback_url=f"{settings.public_url.rstrip('/')}/webhooks/operators/{order['slug']}",
        )
        remote = reference_adapter().create_mailbox(request, key)
        if remote.status != RemoteStatus.ACTIVE:
            raise RuntimeError(f"the operator answered {remote.status} for order {order_id}")
        started, now = now, _now()
        connection = {name: value for name, value in vars(remote.connection).items() if value}
        entry = _directory_entry(professional, order["address"], mailbox_id, now)
        to = order["contact_email"] or order["account_email"]
        context = ready_email_context(
            holder_name=order["display_name"],
            address=order["address"],
            operator=Operator(name=order["operator_name"], support_hours=order["support_hours"]),
            connection=connection,
            order_url=f"{settings.public_url.rstrip('/')}/commandes/{order_id}",
        )
        subject, text, html = render_email("mailbox_ready", context, order["locale"])
        cursor.execute(
            ACTIVATE,
            {
                **order,
                **{f"entry_{column}": value for column, value in entry.items()},
                "mailbox_id": mailbox_id,
                "key": key,
                "started": started,
                "now": now,
                "revision_id": order["offer_revision_id"],
                "external_id": remote.external_id,
                "connection": Json(connection),
                "terms": sorted(typo_terms(entry)),
                "reason": "Mailbox created at the operator and listed in the directory",
                "dedup_key": f"mailbox-ready:{mailbox_id}",
                "to": to,
                "subject": subject,
                "text": text,
                "html": html,
            },
        )
        message = cursor.fetchone()
        if message is not None:
            enqueue(sketch_send, message[0], queue="mail", session=session, follow_up=True)


def _directory_entry(
    professional: Professional, address: str, mailbox_id: int, now: dt.datetime
) -> dict[str, Any]:
    """The columns the publisher writes for a new PER mailbox of a known professional."""
    entry = {
        **practitioner_holder(professional).values,
        "address": address,
        "mailbox_type": "PER",
        "liste_rouge": False,
        "preferred": False,
    }
    index_values(entry)
    entry.update(source="portal", mailbox_id=mailbox_id, created_at=now, updated_at=now)
    if set(entry) != set(ENTRY_COLUMNS):
        raise RuntimeError(
            f"the entry's columns changed: {sorted(set(entry) ^ set(ENTRY_COLUMNS))}"
        )
    return entry


class _Outbox:
    """The attributes of an outbox row that :func:`build_email` reads."""

    def __init__(self, row: dict[str, Any]):
        self.__dict__.update(row)


def sketch_send(message_id: int) -> None:
    """The e-mail follow-up: one read, SMTP, one update."""
    settings = current_app.config["PORTAL_SETTINGS"]
    with session_scope() as session:
        cursor = _cursor(session)
        cursor.execute(
            "SELECT id, to_address, subject, body_text, body_html, locale, status "
            "FROM outboxmessage WHERE id = %s FOR UPDATE",
            (message_id,),
        )
        row = cursor.fetchone()
        if row is None or row[6] == "sent":
            return
        columns = [column.name for column in cursor.description]
        message = _Outbox(dict(zip(columns, row, strict=True)))
        deliver_smtp(build_email(message, settings), settings.mail_url)
        cursor.execute(
            "UPDATE outboxmessage SET status = 'sent', attempts = attempts + 1, sent_at = %s, "
            "last_error = NULL WHERE id = %s",
            (_now(), message_id),
        )


# --- the check that the sketch does the pipeline's work --------------------------------------

_ROWS = {
    "orders": "SELECT * FROM orders WHERE id = :order_id",
    "orderline": "SELECT * FROM orderline WHERE order_id = :order_id",
    "orderevent": "SELECT * FROM orderevent WHERE order_id = :order_id ORDER BY id",
    "mailbox": "SELECT m.* FROM mailbox m JOIN orderline l ON l.mailbox_id = m.id "
    "WHERE l.order_id = :order_id",
    "provisioningattempt": "SELECT a.* FROM provisioningattempt a "
    "JOIN orderline l ON l.mailbox_id = a.mailbox_id WHERE l.order_id = :order_id",
    "subscription": "SELECT * FROM subscription WHERE order_id = :order_id",
    "directoryentry": "SELECT d.* FROM directoryentry d "
    "JOIN orderline l ON l.mailbox_id = d.mailbox_id WHERE l.order_id = :order_id",
    "outboxmessage": "SELECT o.* FROM outboxmessage o JOIN orderline l "
    "ON o.dedup_key = 'mailbox-ready:' || l.mailbox_id WHERE l.order_id = :order_id",
}
# Different for every order by construction: keys, random identifiers, times.
_UNIQUE = ("id", "external_id", "idempotency_key", "dedup_key")


def rows_of(session: Session, order_id: int, person: int) -> dict[str, list[dict[str, Any]]]:
    """Every row an order's journey wrote, with what is unique to it blanked out: ids and times,
    and the number of the bench's person ``person`` (in names, addresses and identifiers)."""
    import sqlalchemy as sa

    number = f"{20000000000 + person}"
    own = {
        number: "<rpps>",
        f"ssai{person}": "ssai<n>",
        f"anc{person}@": "anc<n>@",
        f"Banc {person}": "Banc <n>",
        f"/commandes/{order_id}": "/commandes/<order>",
    }

    def blank(column: str, value: Any) -> Any:
        if column in _UNIQUE or column.endswith(("_id", "_at")) or value is None:
            return "<set>" if value is not None else None
        if column in ("search_text", "search_prefixes"):  # the person's number and its prefixes
            return " ".join(word for word in value.split() if not any(map(str.isdigit, word)))
        if isinstance(value, str):
            for mine, placeholder in own.items():
                value = value.replace(mine, placeholder)
        return value

    return {
        table: [
            {column: blank(column, value) for column, value in row.items()}
            for row in session.execute(sa.text(query), {"order_id": order_id}).mappings()
        ]
        for table, query in _ROWS.items()
    }
