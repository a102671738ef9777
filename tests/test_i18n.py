"""French and English are both complete: every string has a French translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def test_french_catalogue_is_complete_and_consistent() -> None:
    with open(ROOT / "translations/fr/LC_MESSAGES/messages.po", "rb") as handle:
        catalogue = read_po(handle)
    with open(ROOT / "translations/messages.pot", "rb") as handle:
        template = read_po(handle)
    assert {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id} <= {
        m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id
    }, "run `make messages` and translate the new strings"
    for message in catalogue:
        if not message.id:
            continue
        assert "fuzzy" not in message.flags, message.id
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(strings), f"untranslated: {message.id!r}"
        for string in strings:
            assert sorted(set(PLACEHOLDER.findall(string))) == sorted(set(PLACEHOLDER.findall(ids[-1]))), message.id


def test_every_source_string_is_extracted() -> None:
    """Strings added since the last `make messages` would show in English on French pages."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "messages.pot"
        pybabel = str(Path(sys.executable).parent / "pybabel")
        subprocess.run(
            [
                pybabel,
                "-q",
                "extract",
                "-F",
                "babel.cfg",
                "-k",
                "_l",
                "-k",
                "lazy_gettext",
                "--no-location",
                "--ignore-dirs=.venv tests bench migrations",
                "-o",
                str(out),
                ".",
            ],
            cwd=ROOT,
            check=True,
        )
        with open(out, "rb") as handle:
            fresh = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    with open(ROOT / "translations/fr/LC_MESSAGES/messages.po", "rb") as handle:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert fresh - known == set()
