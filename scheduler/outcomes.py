"""What a try makes of its row: posted, given back unspent, queued again after a backoff, or failed.

Pure functions of the row, the network's answer and the clock, returning the row's new values; the outbox
(`scheduler.outbox`) writes them, only where the row is still its claim.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from scheduler.models import Delivery, DeliveryState

MAX_ATTEMPTS = 6  # for a network that fails or does not answer
MAX_RATE_LIMITED_ATTEMPTS = 12  # waiting out rate limits is slower, not failing
BACKOFF_SECONDS = 30.0  # doubled at each attempt, up to an hour, ±25 % jitter (OUTBOX_BACKOFF_SECONDS)
MAX_BACKOFF_SECONDS = 3600.0


def success(result: PostResult, now: datetime) -> dict[str, Any]:
    """The row's new values after a post."""
    return {
        "state": DeliveryState.POSTED,
        "remote_id": result.remote_id,
        # The network's own link to the post, shown to the supporter as a link: a web address only (a hostile
        # instance could answer javascript:…), within the column's size.
        "remote_url": result.url
        if result.url.lower().startswith(("https://", "http://")) and len(result.url) <= 500
        else "",
        "error_kind": "",
        "error": "",
        "finished_at": now,
        "claimed_at": None,
    }


def released(delivery: Delivery) -> dict[str, Any]:
    """The row's new values when its worker gives it back unsent: queued, due now, the attempt not counted."""
    return {
        "state": DeliveryState.QUEUED,
        "attempts": delivery.attempts - 1,
        "claimed_at": None,
        "dispatched_at": None,
    }


def backoff(attempts: int, rng: random.Random | None = None, *, first: float = BACKOFF_SECONDS) -> float:
    """Seconds before the next try: doubling from `first` (30 s) to an hour, with jitter so retries do not flock."""
    base = min(MAX_BACKOFF_SECONDS, first * 2 ** max(0, attempts - 1))
    return base * (rng or random).uniform(0.75, 1.25)  # noqa: S311 (spreading load, not a secret)


def failure(delivery: Delivery, error: ChannelError, now: datetime) -> dict[str, Any]:
    """The row's new values: queued again (never before the network's `retry_at`, never at once) or failed."""
    values: dict[str, Any] = {
        "error_kind": error.kind.value,
        "error": error.reason,
        "claimed_at": None,
        "dispatched_at": None,
    }
    if error.kind is ErrorKind.DEFERRED:  # held on our side: not an attempt
        wait = error.retry_at or now + timedelta(seconds=60)
        return {**values, "state": DeliveryState.QUEUED, "next_attempt_at": wait, "attempts": delivery.attempts - 1}
    if error.kind is ErrorKind.DUPLICATE and delivery.attempts > 1:
        # X has no idempotency key: an earlier attempt whose answer we lost did post this text.
        return {**values, "state": DeliveryState.POSTED, "finished_at": now}
    limit = MAX_RATE_LIMITED_ATTEMPTS if error.kind is ErrorKind.RATE_LIMITED else MAX_ATTEMPTS
    first = float(current_app.config.get("OUTBOX_BACKOFF_SECONDS", BACKOFF_SECONDS))
    wait = now + timedelta(seconds=backoff(delivery.attempts, first=first))
    if error.retryable and delivery.attempts < limit:
        if error.retry_at is not None:  # the network said when: then, plus a little spread
            spread = timedelta(seconds=random.uniform(1, 15) * min(1.0, first / BACKOFF_SECONDS))  # noqa: S311
            wait = max(error.retry_at + spread, now + timedelta(seconds=min(5.0, first)))
        return {**values, "state": DeliveryState.QUEUED, "next_attempt_at": wait}
    if error.kind is ErrorKind.UNAVAILABLE:
        # The last try went unanswered, and may have posted all the same: one more, which finds a post made
        # under the row's key (or posts it, the key keeping it single), before the row is given up as
        # perhaps posted rather than said not to be.
        values["error_kind"] = ErrorKind.UNCONFIRMED.value
        if delivery.error_kind != ErrorKind.UNCONFIRMED:
            return {**values, "state": DeliveryState.QUEUED, "next_attempt_at": wait}
    return {**values, "state": DeliveryState.FAILED, "finished_at": now}
