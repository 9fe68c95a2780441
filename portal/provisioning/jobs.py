"""Background jobs of the provisioning pipeline: plain functions taking ids (see pipeline.py).

Each opens its own transaction, reloads the order and does nothing if the order has moved on,
so a job delivered twice, replayed by the reconciler or run after a crash is harmless.
"""

from __future__ import annotations

from flask import current_app

from portal.config import Settings
from portal.db import session_scope
from portal.provisioning import pipeline


def _settings() -> Settings:
    return current_app.config["PORTAL_SETTINGS"]


def provision_order(order_id: int) -> None:
    """Queue ``provisioning``: create the order's mailboxes at the operator."""
    with session_scope() as session:
        pipeline.provision(session, order_id, _settings())


def register_order_in_directory(order_id: int) -> None:
    """Queue ``directory``: list the mailboxes in the directory and activate the order."""
    with session_scope() as session:
        pipeline.register_in_directory(session, order_id, _settings())


def terminate_order(order_id: int) -> None:
    """Queue ``provisioning``: terminate the order's mailboxes at the operator."""
    with session_scope() as session:
        pipeline.terminate(session, order_id, _settings())


def reconcile_orders() -> None:
    """Queue ``provisioning`` (scheduled): hand stuck orders and e-mails to the workers again."""
    from portal.provisioning.reconciler import reconcile

    with session_scope() as session:
        reconcile(session)
