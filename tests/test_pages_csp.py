"""The pages live under a strict Content-Security-Policy (`security.CSP`): nothing from another host, no
inline script or style. A style attribute in a template would be dropped silently by the browser (the
waves' timeline once was), so none may be there.
"""

from __future__ import annotations

import re
from pathlib import Path

import security

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# E-mails are read by mail clients, which need inline styles; the sandbox is an app of its own, without the CSP.
EXEMPT = ("email", "sandbox")


def page_templates() -> list[Path]:
    return [p for p in TEMPLATES.rglob("*.html") if not set(EXEMPT) & set(p.relative_to(TEMPLATES).parts)]


def test_no_page_template_relies_on_what_the_policy_forbids() -> None:
    assert "style-src 'self';" in security.CSP and "script-src 'self';" in security.CSP
    offenders = []
    for path in page_templates():
        text = path.read_text()
        for pattern in (r"\sstyle=", r"<style", r"<script(?![^>]*\bsrc=)", r"\son[a-z]+=", r"(src|href)=\"https?://"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {pattern}")
    assert offenders == []
    assert len(page_templates()) > 30
