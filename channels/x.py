"""X: weighted length (twitter-text v3: 280, URLs 23, CJK and emoji 2) and the Web Intent link."""

from __future__ import annotations

import re
from urllib.parse import quote

from twitter_text import parse_tweet

from channels import LengthCheck, Network, unwrap_handle

LIMIT = 280
INTENT_URL = "https://x.com/intent/tweet"


def check_length(text: str) -> LengthCheck:
    result = parse_tweet(text)
    return LengthCheck(Network.X, result.weightedLength, LIMIT, detail="weighted; links count 23")


def compose_url(text: str) -> str:
    return f"{INTENT_URL}?text={quote(text, safe='')}"


_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_PROFILE_URL = re.compile(r"^(?:https?://)?(?:www\.|mobile\.)?(?:twitter|x)\.com/(?:#!/)?([^/?#]+)", re.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """`@Name`, `x.com/Name`, `https://twitter.com/Name` → `Name`. Raises ValueError when invalid."""
    value = unwrap_handle(raw, _PROFILE_URL)
    if not _HANDLE.match(value):
        raise ValueError(f"not an X handle: {raw.strip()!r} (1 to 15 letters, digits or _)")
    return value
