"""What network calls return, the same shape for every network."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from channels.errors import RateState


def web_link(url: str) -> str:
    """A URL a network gave us, kept only when it is a web address we can put in a page ("" otherwise):
    `javascript:`, `data:` and the like never become links."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme in ("https", "http") and parts.netloc and not any(ch in text for ch in '\r\n\t"<> '):
        return text[:2000]
    return ""


@dataclass(frozen=True)
class PostResult:
    remote_id: str
    url: str  # where the supporter sees the post (in the sandbox when the endpoint is one)
    rate: RateState | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", web_link(self.url))


@dataclass(frozen=True)
class Profile:
    remote_id: str
    handle: str
    display_name: str
    followers: int | None


@dataclass(frozen=True)
class PostMetrics:
    remote_id: str
    likes: int
    reposts: int
    replies: int
    quotes: int


@dataclass(frozen=True)
class PublicPost:
    """A post read from an account's public timeline (to confirm a compose-link send)."""

    remote_id: str
    url: str
    text: str
    created_at: datetime | None


@dataclass(frozen=True)
class Reply:
    """A reply to one of our posts, as the network shows it publicly."""

    remote_id: str
    author: str  # the replying account's handle (`handle` on Bluesky, `user@instance` on Mastodon)
    text: str
    url: str
    created_at: datetime | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", web_link(self.url))


@dataclass(frozen=True)
class Tokens:
    """An OAuth grant: the access token, and the refresh token when the network rotates them."""

    access: str
    refresh: str | None = None
    expires_at: datetime | None = None
    scope: str = ""


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
