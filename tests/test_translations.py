"""Every string the portal shows exists in English, and the catalogue is up to date."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from portal.config import PROJECT_ROOT

CATALOGUE = PROJECT_ROOT / "portal" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


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


def test_the_catalogue_holds_every_string_of_the_code_and_templates(tmp_path):
    template = tmp_path / "messages.pot"
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
        extracted = _ids(read_po(handle))
    with CATALOGUE.open("rb") as handle:
        translated = _ids(read_po(handle, locale="en"))
    missing = sorted(extracted - translated)
    assert missing == [], "run `make messages` and translate: " + "; ".join(missing[:5])
