"""One module per network: compose link, length rule, handle form. No database, no Flask.

`check_length`, `compose_url` and `mention` dispatch to the network's module, so callers never
branch on the network themselves.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache


class Network(enum.StrEnum):
    X = "x"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"
    EMAIL = "email"

    @property
    def label(self) -> str:
        return {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon", "email": "E-mail"}[self.value]


@dataclass(frozen=True)
class LengthCheck:
    """A text measured by a network's own rule. `over_by` is 0 when the text fits."""

    network: Network
    length: int
    limit: int | None
    unit: str = "characters"
    detail: str = ""

    @property
    def over_by(self) -> int:
        return max(0, self.length - self.limit) if self.limit is not None else 0

    @property
    def ok(self) -> bool:
        return self.over_by == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "network": self.network.value,
            "label": self.network.label,
            "length": self.length,
            "limit": self.limit,
            "over_by": self.over_by,
            "ok": self.ok,
            "unit": self.unit,
            "detail": self.detail,
        }


@lru_cache(maxsize=32_768)
def check_length(network: Network, text: str, *, limit: int | None = None) -> LengthCheck:
    """Measure `text` with `network`'s rule (Mastodon takes the instance's own limit).

    Memoised: the rules are pure, and a campaign shows the same few thousand texts (targets ×
    variants × networks) over and over; twitter-text's emoji scan alone costs ~1.5 ms a call.
    """
    from channels import bluesky, email, mastodon, x

    if network is Network.X:
        return x.check_length(text)
    if network is Network.BLUESKY:
        return bluesky.check_length(text)
    if network is Network.MASTODON:
        return mastodon.check_length(text, limit=limit or mastodon.DEFAULT_LIMIT)
    return email.check_length(text)


def compose_url(
    network: Network, text: str, *, instance: str | None = None, to: str | None = None, subject: str = ""
) -> str:
    """The link that opens the network's own composer with `text`; the supporter presses send."""
    from channels import bluesky, email, mastodon, x

    if network is Network.X:
        return x.compose_url(text)
    if network is Network.BLUESKY:
        return bluesky.compose_url(text)
    if network is Network.MASTODON:
        if not instance:
            raise ValueError("a Mastodon compose link needs the supporter's instance")
        return mastodon.compose_url(text, instance=instance)
    if not to:
        raise ValueError("an e-mail link needs an address")
    return email.compose_url(text, to=to, subject=subject)


def mention(network: Network, handle: str) -> str:
    """How a stored handle is written in a post on that network (`@name`, `@name.bsky.social`, `@u@host`)."""
    return handle if network is Network.EMAIL else "@" + handle.lstrip("@")


@lru_cache(maxsize=1)
def _handle_normalisers() -> dict[Network, Callable[[str], str]]:
    from channels import bluesky, email, mastodon, x

    return {
        Network.X: x.normalise_handle,
        Network.BLUESKY: bluesky.normalise_handle,
        Network.MASTODON: mastodon.normalise_handle,
        Network.EMAIL: email.normalise_handle,
    }


def normalise_handle(network: Network, raw: str) -> str:
    """The stored form of a handle in any form the data uses. Raises ValueError naming the network."""
    return _handle_normalisers()[network](raw)


def unwrap_handle(raw: str, profile_url: re.Pattern[str]) -> str:
    """A handle without its profile URL, leading @ and stray white space (carriage returns included)."""
    value = raw.strip()
    url = profile_url.match(value)
    if url:
        value = url.group(1)
    return value.lstrip("@").strip()
