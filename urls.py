"""Absolute URLs, built from PUBLIC_URL alone: never from the request's Host header, which anyone can set."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute URL on PUBLIC_URL (OAuth redirects, e-mail links, share links), with or without a request."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def slugify(text: str, fallback: str = "campaign") -> str:
    """'Livre blanc : l'ESS !' → 'livre-blanc-l-ess'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or fallback
