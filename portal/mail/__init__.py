"""Outgoing e-mail through an outbox table.

Callers write the message in their own transaction with :func:`queue_email`; the ``mail`` job
sends it once that transaction commits (SMTP from ``MAIL_URL``, or a file under
``instance/mail/`` when it is unset). See :mod:`portal.mail.services`.
"""

from portal.mail.services import queue_email

__all__ = ["queue_email"]
