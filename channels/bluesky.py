"""Bluesky: 300 grapheme clusters and 3000 UTF-8 bytes (links count in full); the compose intent."""

from __future__ import annotations

import re
from urllib.parse import quote

import regex

from channels import LengthCheck, Network, unwrap_handle

GRAPHEME_LIMIT = 300
BYTE_LIMIT = 3000
INTENT_URL = "https://bsky.app/intent/compose"


def grapheme_count(text: str) -> int:
    return len(regex.findall(r"\X", text))


def check_length(text: str) -> LengthCheck:
    graphemes = grapheme_count(text)
    size = len(text.encode("utf-8"))
    if size > BYTE_LIMIT:
        # The byte rule binds before the grapheme one only for very dense scripts; report it as such.
        return LengthCheck(Network.BLUESKY, size, BYTE_LIMIT, unit="bytes", detail="UTF-8 bytes")
    return LengthCheck(Network.BLUESKY, graphemes, GRAPHEME_LIMIT, detail="graphemes; links count in full")


def compose_url(text: str) -> str:
    return f"{INTENT_URL}?text={quote(text, safe='')}"


_HANDLE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_PROFILE_URL = re.compile(r"^(?:https?://)?bsky\.app/profile/([^/?#]+)", re.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """`@name.bsky.social`, a custom domain, or a bsky.app profile URL → `name.bsky.social`."""
    value = unwrap_handle(raw, _PROFILE_URL).lower()
    if not _HANDLE.match(value):
        raise ValueError(f"not a Bluesky handle: {raw.strip()!r} (a domain such as name.bsky.social)")
    return value
