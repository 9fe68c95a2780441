"""E-mails: written to the outbox with the cause, sent once, by SMTP or to files."""

from __future__ import annotations

import email
import socket
import time
from email import policy
from email.utils import parseaddr

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from portal import queue
from portal.mail import queue_email
from portal.mail.models import OutboxMessage
from portal.mail.services import send_outbox_message
from portal.queue import TransientJobError

CONTEXT = {
    "holder_name": "Marie Curie",
    "address": "marie.curie@horizon-demo.mssante.fr",
    "operator_name": "Horizon <Santé>",
    "webmail_url": "https://webmail.example.test",
    "imap_host": "imap.example.test",
    "imap_port": 993,
    "smtp_host": "smtp.example.test",
    "smtp_port": 587,
    "order_url": "http://127.0.0.1:5000/commandes/1",
    "support_hours": {"fr": "Du lundi au vendredi", "en": "Monday to Friday"},
}


@pytest.fixture
def outbox(app, db_session, settings, monkeypatch, tmp_path):
    monkeypatch.setitem(
        app.config, "PORTAL_SETTINGS", settings.with_overrides(instance_dir=tmp_path)
    )
    queue.runner(app).clear()
    with app.app_context():
        yield db_session
    queue.runner(app).clear()


def _queue(session, key="mailbox-ready:test", locale="fr"):
    return queue_email(
        session,
        to="marie.curie@example.org",
        template="mailbox_ready",
        context=CONTEXT,
        locale=locale,
        dedup_key=key,
    )


def test_queued_email_is_rendered_in_french_and_waits_in_the_outbox(outbox):
    message = _queue(outbox)
    stored = outbox.exec(select(OutboxMessage).where(OutboxMessage.id == message.id)).one()
    assert stored.status == "pending"
    assert stored.subject == (
        "Votre boîte aux lettres MSSanté marie.curie@horizon-demo.mssante.fr est prête"
    )
    assert "Serveur de réception IMAP : imap.example.test, port 993" in stored.body_text
    assert "Horizon <Santé>" in stored.body_text  # plain text is not HTML-escaped
    assert "Horizon &lt;Santé&gt;" in stored.body_html  # operator text escaped in HTML
    assert "Du lundi au vendredi" in stored.body_text


def test_english_recipients_get_the_english_text(outbox):
    message = _queue(outbox, key="mailbox-ready:en", locale="en")
    assert message.subject == ("Your MSSanté mailbox marie.curie@horizon-demo.mssante.fr is ready")
    assert "Monday to Friday" in message.body_text
    assert 'lang="en"' in message.body_html


def test_the_same_cause_is_queued_once(outbox, app):
    first = _queue(outbox, key="mailbox-ready:twice")
    second = _queue(outbox, key="mailbox-ready:twice")
    assert first.id == second.id
    outbox.commit()
    assert queue.drain(app) == 1
    rows = outbox.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key == "mailbox-ready:twice")
    )
    assert len(rows.all()) == 1


def test_without_mail_url_the_message_is_written_under_instance_mail(outbox, app, tmp_path):
    message = _queue(outbox, key="mailbox-ready:file")
    outbox.commit()
    queue.drain(app)
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["To"] == "marie.curie@example.org"
    assert parsed.get_body(("plain",)).get_content().startswith("Bonjour Marie Curie,")
    assert (
        "<strong>marie.curie@horizon-demo.mssante.fr</strong>"
        in parsed.get_body(("html",)).get_content()
    )
    message = outbox.get(OutboxMessage, message.id)
    assert message.status == "sent"
    assert message.sent_at is not None
    # Running the job again (a duplicate delivery of the job) sends nothing more.
    send_outbox_message(message.id)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_with_mail_url_the_message_goes_through_smtp(outbox, app, settings, monkeypatch, tmp_path):
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setitem(
            app.config,
            "PORTAL_SETTINGS",
            settings.with_overrides(instance_dir=tmp_path, mail_url=f"smtp://127.0.0.1:{port}"),
        )
        message = _queue(outbox, key="mailbox-ready:smtp")
        outbox.commit()
        queue.drain(app)
        deadline = time.monotonic() + 5
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in inbox.messages] == [["marie.curie@example.org"]]
    raw = inbox.messages[0].content
    received = email.message_from_bytes(raw, policy=policy.default)
    assert received["Subject"].startswith("Votre boîte aux lettres MSSanté")
    message = outbox.get(OutboxMessage, message.id)
    # Accented subject and sender name travel as RFC 2047 encoded words: the header block is
    # ASCII, and a mail client reads them back exactly.
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()
    assert received["Subject"] == message.subject
    assert received["From"].addresses[0].display_name == parseaddr(settings.mail_from)[0]
    assert message.status == "sent"
    assert not list(tmp_path.glob("mail/*.eml"))


def test_an_unreachable_relay_keeps_the_message_pending_for_a_retry(
    outbox, app, settings, monkeypatch, tmp_path
):
    port = _free_port()  # nothing listens there
    monkeypatch.setitem(
        app.config,
        "PORTAL_SETTINGS",
        settings.with_overrides(instance_dir=tmp_path, mail_url=f"smtp://127.0.0.1:{port}"),
    )
    message = _queue(outbox, key="mailbox-ready:down")
    outbox.commit()
    with pytest.raises(TransientJobError):
        send_outbox_message(message.id)
    message = outbox.get(OutboxMessage, message.id)
    assert message.status == "pending"
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error


class _CountingInbox(_Inbox):
    """Records, with each message, the connection (client port) it came over."""

    def __init__(self):
        super().__init__()
        self.ports = []

    async def handle_DATA(self, server, session, envelope):
        self.ports.append(session.peer[1])
        return await super().handle_DATA(server, session, envelope)


def _wait_for(inbox, count):
    deadline = time.monotonic() + 5
    while len(inbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_messages_share_one_smtp_connection_and_a_closed_one_is_reopened(
    outbox, app, settings, monkeypatch, tmp_path
):
    port = _free_port()
    monkeypatch.setitem(
        app.config,
        "PORTAL_SETTINGS",
        settings.with_overrides(instance_dir=tmp_path, mail_url=f"smtp://127.0.0.1:{port}"),
    )
    inbox = _CountingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        first = _queue(outbox, key="mailbox-ready:conn-1")
        second = _queue(outbox, key="mailbox-ready:conn-2")
        outbox.commit()
        assert queue.drain(app) == 2
        _wait_for(inbox, 2)
    finally:
        controller.stop()
    assert len(inbox.messages) == 2
    assert len(set(inbox.ports)) == 1  # one connection for both
    # The relay restarts (it closed our connection): the next message still goes out.
    restarted = _CountingInbox()
    controller = Controller(restarted, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        third = _queue(outbox, key="mailbox-ready:conn-3")
        outbox.commit()
        queue.drain(app)
        _wait_for(restarted, 1)
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in restarted.messages] == [["marie.curie@example.org"]]
    outbox.expire_all()
    assert {outbox.get(OutboxMessage, m.id).status for m in (first, second, third)} == {"sent"}
