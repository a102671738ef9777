"""Mastodon: graphemes, http(s) links count 23, `@user@domain` counts as `@user`; the share link."""

from __future__ import annotations

import re
from urllib.parse import quote

import regex

from channels import LengthCheck, Network

DEFAULT_LIMIT = 500
URL_LENGTH = 23
# As upstream's StatusLengthValidator: only links with a scheme are shortened.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+(?:[.\-]+\w+)*)@[\w.\-]+\w", re.UNICODE)
_INSTANCE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(:\d{1,5})?$")


def counted_text(text: str) -> str:
    text = _URL.sub("x" * URL_LENGTH, text)
    return _REMOTE_MENTION.sub(lambda match: "@" + match.group(1), text)


def check_length(text: str, *, limit: int = DEFAULT_LIMIT) -> LengthCheck:
    length = len(regex.findall(r"\X", counted_text(text)))
    return LengthCheck(Network.MASTODON, length, limit, detail="links count 23; @user@domain counts as @user")


def normalise_instance(value: str) -> str | None:
    """`https://Mastodon.Social/` → `mastodon.social`; None when it is not a host name."""
    host = value.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    host = host.split("/", 1)[0].lstrip("@")
    if "@" in host:  # someone typed their whole address, user@instance
        host = host.rsplit("@", 1)[1]
    return host if _INSTANCE.match(host) else None


def compose_url(text: str, *, instance: str) -> str:
    host = normalise_instance(instance)
    if host is None:
        raise ValueError(f"not a Mastodon instance: {instance!r}")
    return f"https://{host}/share?text={quote(text, safe='')}"


_USER = re.compile(r"^[A-Za-z0-9_]+(?:[.\-]+[A-Za-z0-9_]+)*$")
_PROFILE_URL = re.compile(r"^https?://([^/]+)/@([^/?#]+)/?$", re.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """`@user@instance`, `user@instance` or `https://instance/@user` → `user@instance`."""
    value = raw.strip()
    url = _PROFILE_URL.match(value)
    if url:
        value = f"{url.group(2)}@{url.group(1)}"
    value = value.lstrip("@")
    user, _, host = value.partition("@")
    instance = normalise_instance(host) if host else None
    if not _USER.match(user) or instance is None:
        raise ValueError(f"not a Mastodon address: {raw.strip()!r} (user@instance)")
    return f"{user}@{instance}"
