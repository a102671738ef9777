"""What a network call can end in besides success: one error type, with a kind the caller acts on."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from channels.http import ResponseTooLarge, UnsafeHost


class ErrorKind(enum.StrEnum):
    RATE_LIMITED = "rate_limited"  # come back at `retry_at` (or later, when the network did not say)
    AUTH_EXPIRED = "auth_expired"  # the token was revoked or expired past refresh: the supporter reconnects
    AUTH_FAILED = "auth_failed"  # wrong identifier or password when connecting
    DUPLICATE = "duplicate"  # the network already holds this text from this account
    REJECTED = "rejected"  # the network refused the content; `reason` is its own words
    UNAVAILABLE = "unavailable"  # timeout, connection refused, 5xx: the outcome may be unknown
    NOT_SUPPORTED = "not_supported"  # the server is not the network it was said to be (not a Mastodon)
    DEFERRED = "deferred"  # held by us (a paused wave), not refused: try again at `retry_at`, not an attempt
    # Never raised by a client: the outbox's mark on a row whose last try went unanswered, so that it asks
    # once more before giving up; a row failed with it may be on the network all the same.
    UNCONFIRMED = "unconfirmed"


_RETRYABLE = {ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.DEFERRED}


class ChannelError(Exception):
    """A call that did not do what was asked. `retry_at` is set when the network said when to come back."""

    def __init__(self, kind: ErrorKind, reason: str = "", *, retry_at: datetime | None = None) -> None:
        reason = " ".join(reason.split())[:300]  # a stranger's server writes this text: one short line
        super().__init__(f"{kind.value}: {reason}" if reason else kind.value)
        self.kind = kind
        self.reason = reason
        self.retry_at = retry_at

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


@dataclass(frozen=True)
class RateState:
    """What the network's headers said of the account's budget on the call just made."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None


def epoch(value: str | None) -> datetime | None:
    """An epoch-seconds header (X, Bluesky) as a UTC datetime; None when absent or unreadable."""
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def iso(value: str | None) -> datetime | None:
    """An ISO-8601 header (Mastodon's `X-RateLimit-Reset`) as a UTC datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_state(headers: requests.structures.CaseInsensitiveDict[str], prefix: str, reset: str = "epoch") -> RateState:
    """Read `<prefix>-limit`, `-remaining` and `-reset` (epoch seconds or ISO-8601) from a response."""
    parse = epoch if reset == "epoch" else iso
    return RateState(
        limit=_int(headers.get(f"{prefix}-limit")),
        remaining=_int(headers.get(f"{prefix}-remaining")),
        reset_at=parse(headers.get(f"{prefix}-reset")),
    )


def rate_limited(retry_at: datetime | None, reason: str) -> ChannelError:
    return ChannelError(ErrorKind.RATE_LIMITED, reason, retry_at=retry_at)


def transport_error(exc: requests.RequestException, network: str) -> ChannelError:
    """A timeout or a refused connection: the call may or may not have reached the network.

    A host the guard refused (`channels.http`) is final: it will not become a public server by retrying.
    """
    if isinstance(exc, UnsafeHost):
        return ChannelError(ErrorKind.NOT_SUPPORTED, f"{network} is not a public server we can connect to")
    if isinstance(exc, ResponseTooLarge):
        return ChannelError(ErrorKind.NOT_SUPPORTED, f"{network} sent an answer too large or too slow to read")
    if isinstance(exc, requests.Timeout):
        return ChannelError(ErrorKind.UNAVAILABLE, f"{network} did not answer in time")
    return ChannelError(ErrorKind.UNAVAILABLE, f"{network} could not be reached")


def server_error(status: int, network: str) -> ChannelError:
    return ChannelError(ErrorKind.UNAVAILABLE, f"{network} answered with a server error ({status})")
