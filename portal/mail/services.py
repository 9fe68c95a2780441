"""Write e-mails to the outbox and send them.

Contract used by every domain (identity for invitations and password resets, provisioning for
"your mailbox is ready")::

    queue_email(session, to="a@b.fr", template="mailbox_ready",
                context={...}, locale="fr", dedup_key="mailbox-ready:42")

- ``template`` names three files under ``templates/mail/``: ``<name>.subject.txt`` (one line),
  ``<name>.txt`` (plain text) and ``<name>.html`` (HTML, extending ``mail/base.html``). They are
  written with French msgids in ``_()`` like every template, and rendered in ``locale`` (``fr``
  or ``en``) when the message is queued, so the outbox holds exactly what is sent.
- ``context`` holds plain values (strings, numbers); ``public_url`` is always added.
- ``dedup_key`` names the cause ("invitation:17"): queuing the same key again returns the
  first message and sends nothing more, so a retried job never e-mails twice.
- The message is added to ``session`` (the caller commits); the send job is enqueued on the
  ``mail`` queue and starts only after that commit. Queued by a background job, it is a
  follow-up (:mod:`portal.queue`): the same worker sends it right after that job commits.

Each process (each thread) keeps its connection to the SMTP relay open between messages and
opens a new one when the relay has closed it or it has been idle for a while.

Delivery is at least once: if the SMTP relay accepted a message but the database could not
record it, the message is sent again on the next try.
"""

from __future__ import annotations

import logging
import re
import smtplib
import threading
import time
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from sqlmodel import Session, select

from portal.config import Settings
from portal.db import insert_with_conflicts, session_scope, utcnow
from portal.i18n import LANGUAGES
from portal.mail.models import OutboxMessage
from portal.queue import TransientJobError, enqueue

log = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 30
# A connection idle longer than this is closed and a new one opened (relays drop idle clients).
SMTP_IDLE_SECONDS = 20


def queue_email(
    session: Session,
    *,
    to: str,
    template: str,
    context: dict[str, object],
    locale: str,
    dedup_key: str,
) -> OutboxMessage:
    """Write an e-mail to the outbox in the caller's transaction and enqueue its sending."""
    locale = locale if locale in LANGUAGES else "fr"
    subject, text, html = render_email(template, context, locale)
    values = {
        "dedup_key": dedup_key,
        "to_address": to,
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "locale": locale,
    }
    # One statement: the message is written unless the same cause was queued before (or is
    # being queued by another transaction at this moment: that one is kept).
    message = session.scalars(
        insert_with_conflicts(session, OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMessage)
    ).first()
    if message is None:
        return session.exec(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)).one()
    enqueue(send_outbox_message, message.id, queue="mail", session=session, follow_up=True)
    return message


def render_email(template: str, context: dict[str, object], locale: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of ``templates/mail/<template>.*`` in ``locale``."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    values = {"public_url": settings.public_url.rstrip("/"), **context}
    with force_locale(locale):
        subject = render_template(f"mail/{template}.subject.txt", **values)
        text = render_template(f"mail/{template}.txt", **values)
        html = render_template(f"mail/{template}.html", **values)
    return " ".join(subject.split()), text.strip() + "\n", html


def send_outbox_message(message_id: int) -> None:
    """Job (queue ``mail``): deliver one outbox message, once."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    with session_scope() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.status == "sent":
            return
        email = build_email(message, settings)
        message.attempts += 1
        try:
            if settings.mail_url:
                deliver_smtp(email, settings.mail_url)
            else:
                write_to_directory(email, message, settings)
        except (OSError, smtplib.SMTPException) as error:
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            if _is_permanent(error):
                message.status = "failed"
                log.error("e-mail refused", extra={"outbox_id": message.id, "error": str(error)})
                return
            session.commit()
            raise TransientJobError(f"e-mail {message.id} not sent yet: {error}") from error
        message.status = "sent"
        message.sent_at = utcnow()
        message.last_error = None
        log.info("e-mail sent", extra={"outbox_id": message.id})


def build_email(message: OutboxMessage, settings: Settings) -> Message:
    """The MIME message of an outbox row: plain text, and HTML as its alternative.

    Built with the ``email.mime`` classes: the same message as ``EmailMessage`` with the
    default policy would give, for a third of the CPU time (that policy parses and refolds
    every header; ours are known in advance). Non-ASCII headers are RFC 2047 encoded, bodies
    are UTF-8 in quoted-printable.
    """
    text = MIMEText(message.body_text, "plain", _UTF8_QP)
    if message.body_html:
        email: Message = MIMEMultipart("alternative")
        email.attach(text)
        email.attach(MIMEText(message.body_html, "html", _UTF8_QP))
    else:
        email = text
    email["Subject"] = _header(message.subject)
    email["From"] = _address(settings.mail_from)
    email["To"] = _address(message.to_address)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=f"outbox{message.id}", domain=_mail_domain(settings))
    email["Content-Language"] = message.locale
    return email


# Bodies: UTF-8 in quoted-printable, readable in the raw message.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
# Non-ASCII headers: RFC 2047 encoded words in base64 ("B"). To fold a long "Q" encoded header
# the standard library measures every candidate split character by character; "B" lengths are
# arithmetic. Building and flattening a "mailbox ready" message costs about 15 % less.
_UTF8_HEADER = Charset("utf-8")
_UTF8_HEADER.header_encoding = BASE64


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, _UTF8_HEADER)


def _address(value: str) -> str:
    """``Name <address>`` with the name encoded when it is not ASCII."""
    name, address = parseaddr(value)
    return formataddr((name, address), charset=_UTF8_HEADER) if name else address


def deliver_smtp(email: Message, mail_url: str) -> None:
    """Hand ``email`` to the relay of ``mail_url``, over this thread's open connection if any."""
    _connections.send(email, mail_url)


class _SmtpConnections(threading.local):
    """One open SMTP connection per thread, reused from one message to the next."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None
        self.url: str | None = None
        self.last_used = 0.0

    def send(self, email: Message, mail_url: str) -> None:
        reused = self.smtp is not None and self.url == mail_url
        if reused and time.monotonic() - self.last_used > SMTP_IDLE_SECONDS:
            self.close()
            reused = False
        if not reused:
            self.close()
            self.smtp, self.url = _connect(mail_url), mail_url
        try:
            self.smtp.send_message(email)
        except smtplib.SMTPServerDisconnected:
            # The relay closed a connection we kept: nothing was accepted, try a new one once.
            self.close()
            if not reused:
                raise
            self.smtp, self.url = _connect(mail_url), mail_url
            self.smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused:
            self.last_used = time.monotonic()  # the connection itself is fine (RSET was sent)
            raise
        except BaseException:
            self.close()
            raise
        self.last_used = time.monotonic()

    def close(self) -> None:
        smtp, self.smtp, self.url = self.smtp, None, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


_connections = _SmtpConnections()


def _connect(mail_url: str) -> smtplib.SMTP:
    parts = urlsplit(mail_url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=SMTP_TIMEOUT_SECONDS)
    else:
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        smtp.ehlo()
        if parts.scheme == "smtp" and smtp.has_extn("starttls"):
            smtp.starttls()
            smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def write_to_directory(email: Message, message: OutboxMessage, settings: Settings) -> None:
    """Without MAIL_URL: one .eml file per message under instance/mail/ (open it in any client)."""
    directory = settings.mail_dir
    directory.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    safe_key = re.sub(r"[^A-Za-z0-9_.-]+", "-", message.dedup_key)[:60]
    path = directory / f"{stamp}-{message.id}-{safe_key}.eml"
    path.write_bytes(bytes(email))


def _is_permanent(error: Exception) -> bool:
    # 5xx answers about the recipient will not change on retry; everything else may.
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _mail_domain(settings: Settings) -> str:
    return settings.mail_from.rsplit("@", 1)[-1].rstrip(">").strip() or "localhost"
