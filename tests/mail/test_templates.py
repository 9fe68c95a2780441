"""Every e-mail the portal sends exists in French and English, as plain text and HTML."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from portal.mail.services import render_email

MAIL_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
NAMES = sorted({p.name.split(".")[0] for p in MAIL_TEMPLATES.glob("*.subject.txt")})


def test_the_messages_are_found():
    assert {"mailbox_ready", "payment_failed", "subsidy_ending"} <= set(NAMES)


@pytest.mark.parametrize("template", NAMES)
def test_every_e_mail_reads_in_french_and_in_english(app, template):
    context = defaultdict(lambda: "X", name="Marie Durand", reference="CMD-1", offer_name="Offre")
    with app.test_request_context():
        french = render_email(template, context, "fr")
        english = render_email(template, context, "en")
    assert all(part.strip() for part in (*french, *english))
    assert french[0] != english[0]
    assert french[1] != english[1]
