"""What an operator's staff see and do about provisioning: how the portal reaches them, the
work the manual adapter leaves them, and orders that need attention.

Every change goes through the provisioning domain's public functions: secrets are encrypted
by :func:`portal.provisioning.registry.store_secrets`, manual creations are completed by
:func:`portal.provisioning.pipeline.complete_manual_creation`, retries by
:func:`portal.provisioning.pipeline.retry_order` (which goes through the state machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from flask_babel import gettext as _
from sqlmodel import Session, select

from portal.accounts.models import Account, Structure
from portal.audit import record_audit
from portal.catalogue.models import Offer, OfferRevision, Operator
from portal.config import Settings
from portal.provisioning import pipeline, registry
from portal.provisioning.interfaces import PermanentProvisioningError, TransientProvisioningError
from portal.subscriptions import states
from portal.subscriptions.models import Mailbox, MailboxState, Order, OrderLine, OrderState


class OperatorActionError(Exception):
    """The action cannot be done; the message is for the user."""


def save_connection(
    *,
    session: Session,
    operator: Operator,
    settings: Settings,
    kind: str,
    base_url: str,
    timeout_seconds: int,
    token: str,
    callback_secret: str,
    account: Account,
) -> dict[str, str]:
    """Store how the portal reaches the operator. Returns errors by field (nothing saved then)."""
    errors: dict[str, str] = {}
    if kind not in registry.adapter_kinds():
        errors["kind"] = _("Choisissez un mode de raccordement proposé.")
    if kind != "manual":
        parsed = urlparse(base_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            errors["base_url"] = _(
                "Indiquez l’adresse de votre API, par exemple https://api.exemple.fr/mss/v1."
            )
        elif parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost"):
            errors["base_url"] = _("L’adresse de l’API doit commencer par https://.")
        if not token and not operator.adapter_secret_encrypted:
            errors["token"] = _("Indiquez le jeton d’accès que votre API attend.")
    if not 1 <= timeout_seconds <= 60:
        errors["timeout_seconds"] = _("Indiquez un délai de 1 à 60 secondes.")
    if errors:
        return errors
    options = dict(operator.adapter_settings or {})
    options.pop("reference_operator", None)  # an explicit set-up replaces the demo connection
    if kind == "manual":
        options.pop("base_url", None)
    else:
        options["base_url"] = base_url.rstrip("/")
    options["timeout_seconds"] = timeout_seconds
    operator.adapter_kind = kind
    operator.adapter_settings = options
    registry.store_secrets(
        operator, settings, token=token or None, callback=callback_secret or None
    )
    session.add(operator)
    record_audit(
        session,
        action="operator_connection_changed",
        actor_account_id=account.id,
        actor_label=account.display_name,
        target_type="operator",
        target_id=operator.id,
        details={
            "kind": kind,
            "token_changed": bool(token),
            "callback_changed": bool(callback_secret),
        },
    )
    session.flush()
    return {}


def check_connection(*, session: Session, operator: Operator, settings: Settings) -> str | None:
    """None when the operator answers; otherwise a sentence saying what went wrong."""
    try:
        registry.adapter_for(operator, session=session, settings=settings).test_connection()
    except PermanentProvisioningError as error:
        return _("Le raccordement est refusé : %(message)s", message=error.message)
    except TransientProvisioningError as error:
        return _("Votre API ne répond pas pour l’instant : %(message)s", message=str(error))
    return None


@dataclass(frozen=True)
class WorkItem:
    mailbox: Mailbox
    order: Order
    line: OrderLine
    structure: Structure | None


def _operator_orders(operator_id: int):
    return (
        select(Order.id)
        .join(OfferRevision, OfferRevision.id == Order.offer_revision_id)
        .join(Offer, Offer.id == OfferRevision.offer_id)
        .where(Offer.operator_id == operator_id)
    )


def work_items(session: Session, operator: Operator) -> list[WorkItem]:
    """Mailboxes the operator's staff must create by hand (manual adapter)."""
    rows = session.exec(
        select(Mailbox, OrderLine, Order)
        .join(OrderLine, OrderLine.mailbox_id == Mailbox.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Mailbox.operator_id == operator.id,
            Mailbox.state == MailboxState.PENDING,
            Order.state == OrderState.PROVISIONING,
        )
        .order_by(Order.state_changed_at, Mailbox.id)
    ).all()
    return [
        WorkItem(
            mailbox=mailbox,
            order=order,
            line=line,
            structure=session.get(Structure, order.structure_id) if order.structure_id else None,
        )
        for mailbox, line, order in rows
    ]


def complete_work_item(
    *, session: Session, operator: Operator, mailbox_id: int, external_id: str, account: Account
) -> Mailbox:
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or mailbox.operator_id != operator.id:
        raise LookupError(mailbox_id)
    external_id = external_id.strip()
    if not external_id or len(external_id) > 120:
        raise OperatorActionError(
            _("Indiquez l’identifiant de la boîte dans votre système (120 caractères au plus).")
        )
    try:
        pipeline.complete_manual_creation(
            session, mailbox_id=mailbox.id, external_id=external_id, actor=f"staff:{account.id}"
        )
    except ValueError as error:
        raise OperatorActionError(_("Cette boîte n’attend plus d’être créée.")) from error
    return mailbox


def operator_orders(session: Session, operator: Operator, state: str | None) -> list[Order]:
    query = select(Order).where(Order.id.in_(_operator_orders(operator.id)), Order.state != "draft")
    if state:
        query = query.where(Order.state == state)
    return list(session.exec(query.order_by(Order.state_changed_at.desc()).limit(200)).all())


def retry(*, session: Session, operator: Operator, order_id: int, account: Account) -> Order:
    order = states.lock_order(session, order_id)
    if order is None or order.id not in set(
        session.exec(_operator_orders(operator.id).where(Order.id == order_id)).all()
    ):
        raise LookupError(order_id)
    if order.state != OrderState.NEEDS_ATTENTION:
        raise OperatorActionError(
            _(
                "Seule une commande en échec peut être relancée (celle-ci est « %(state)s »).",
                state=states.label(order.state),
            )
        )
    pipeline.retry_order(session, order, actor=f"staff:{account.id}")
    return order
