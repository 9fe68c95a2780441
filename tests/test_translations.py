"""Every string the portal shows exists in English, and the catalogues are up to date.

French is the source language; its catalogue only carries the plural entries, so that French's
plural rule (0 and 1 singular) applies instead of gettext's default (only 1 singular).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from portal.config import PROJECT_ROOT

CATALOGUE = PROJECT_ROOT / "portal" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
FRENCH = PROJECT_ROOT / "portal" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"


def _ids(catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_every_message_is_translated_into_english():
    with CATALOGUE.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    untranslated = [
        m.id
        for m in catalog
        if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)
    ]
    assert untranslated == []


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages of the code and templates, as `make messages` extracts them."""
    template = tmp_path_factory.mktemp("messages") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "ngettext:1,2",
            "--no-location",
            "--ignore-dirs=.venv node_modules",
            "-o",
            str(template),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with template.open("rb") as handle:
        return read_po(handle)


def test_the_catalogue_holds_every_string_of_the_code_and_templates(extracted):
    with CATALOGUE.open("rb") as handle:
        translated = _ids(read_po(handle, locale="en"))
    missing = sorted(_ids(extracted) - translated)
    assert missing == [], "run `make messages` and translate: " + "; ".join(missing[:5])


def test_every_plural_has_its_french_forms(extracted):
    with FRENCH.open("rb") as handle:
        french = read_po(handle, locale="fr")
    wrong = [
        message.id[0]
        for message in extracted
        if isinstance(message.id, tuple)
        and (
            french.get(message.id) is None
            or french.get(message.id).string != message.id
            or french.get(message.id).fuzzy  # left out of the compiled catalogue
        )
    ]
    assert wrong == [], (
        "run `make messages`, then in the French catalogue copy the singular and the plural "
        "of each of these into msgstr[0] and msgstr[1]: " + "; ".join(wrong[:5])
    )


def test_counts_agree_in_both_languages(app):
    from flask_babel import force_locale, ngettext

    def say(locale: str, count: int) -> str:
        with app.test_request_context(), force_locale(locale):
            return (
                ngettext(
                    "Engagement : %(months)s mois",
                    "Engagement : %(months)s mois",
                    count,
                    months=count,
                )
                + " / "
                + ngettext("%(num)d résultat", "%(num)d résultats", count)
            )

    assert [say("fr", n) for n in (0, 1, 2)] == [
        "Engagement : 0 mois / 0 résultat",
        "Engagement : 1 mois / 1 résultat",
        "Engagement : 2 mois / 2 résultats",
    ]
    assert [say("en", n) for n in (0, 1, 2)] == [
        "Commitment: 0 months / 0 results",
        "Commitment: 1 month / 1 result",
        "Commitment: 2 months / 2 results",
    ]
