"""The delivery outbox: claim a due row, run its kind's handler, record the outcome; sweep what a dead worker left.

The database row is the truth. A worker claims a row with a conditional UPDATE (a second worker sees
zero rows and skips), commits, and only then calls the network; a worker that dies mid-call leaves
the row in SENDING, and `sweep` returns it to the queue. The retry then cannot post twice: Mastodon
answers a repeated `Idempotency-Key` with the first post, a Bluesky retry looks for our record key
first, and X's "duplicate content" on a retry means the first attempt did post.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from database import utcnow
from extensions import db
from scheduler.models import Delivery, DeliveryState

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # for a network that fails or does not answer
MAX_RATE_LIMITED_ATTEMPTS = 12  # waiting out rate limits is slower, not failing
BACKOFF_SECONDS = 30.0  # doubled at each attempt, up to an hour, ±25 % jitter
MAX_BACKOFF_SECONDS = 3600.0
STALE_SECONDS = 120  # a SENDING row older than this lost its worker (calls time out well before)

Handler = Callable[[Delivery, datetime], PostResult]  # the row and the worker's clock


class Outbox:
    """The handlers packages register, one per delivery kind (the scheduler knows no kind itself)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is registered already")
        self._handlers[kind] = handler

    def handler(self, kind: str) -> Handler:
        return self._handlers[kind]


def enqueue(
    *,
    kind: str,
    account_id: int,
    network: object,
    text: str,
    idempotency_key: str,
    language: str = "",
    now: datetime | None = None,
) -> Delivery:
    """Add a delivery, due now. Flushes; the caller commits (and then may notify a dispatcher)."""
    delivery = Delivery(
        kind=kind,
        account_id=account_id,
        network=network,
        text=text,
        language=language,
        idempotency_key=idempotency_key,
        next_attempt_at=now or utcnow(),
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def due_ids(now: datetime, *, limit: int = 500) -> list[int]:
    return list(
        db.session.scalars(
            select(Delivery.id)
            .where(Delivery.state == DeliveryState.QUEUED, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
    )


def claim(delivery_id: int, now: datetime) -> Delivery | None:
    """Take the row for this worker (counting the attempt) and return it as claimed, detached from the session;
    None when it is not due or another worker has it. One statement: the UPDATE returns the row.
    """
    delivery = db.session.scalars(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.QUEUED, Delivery.next_attempt_at <= now)
        .values(state=DeliveryState.SENDING, claimed_at=now, attempts=Delivery.attempts + 1, updated_at=now)
        .returning(Delivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()
    if delivery is not None:
        db.session.expunge(delivery)  # a commit expires what the session holds; the claimed row stays as read
    db.session.commit()
    return delivery


def process(delivery_id: int, outbox: Outbox, *, now: datetime | None = None) -> DeliveryState | None:
    """Claim, deliver and record one row; None when it was not ours to take. Safe to call twice or concurrently."""
    now = now or utcnow()
    delivery = claim(delivery_id, now)
    if delivery is None:
        return None
    try:
        result = outbox.handler(delivery.kind)(delivery, now)
    except Exception as exc:
        if not isinstance(exc, ChannelError):
            logger.exception("delivery %s: handler crashed", delivery_id)
        error = exc if isinstance(exc, ChannelError) else ChannelError(ErrorKind.UNAVAILABLE, "internal error")
        db.session.rollback()  # whatever the handler left half-done (it committed what it had to keep)
        outcome = failure(delivery, error, now)
    else:
        outcome = success(result, now)
    # Only while the row is still this claim: a worker that outlived the sweeper must not overwrite the next one.
    recorded = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.state == DeliveryState.SENDING, Delivery.claimed_at == now)
        .values(**outcome, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()  # with what the handler changed (the account's rate budget)
    if not getattr(recorded, "rowcount", 0):
        logger.warning("delivery %s: taken over by another worker before this one recorded it", delivery_id)
        return None
    return DeliveryState(outcome["state"])


def success(result: PostResult, now: datetime) -> dict[str, Any]:
    """The row's new values after a post."""
    return {
        "state": DeliveryState.POSTED,
        "remote_id": result.remote_id,
        "remote_url": result.url,
        "error_kind": "",
        "error": "",
        "finished_at": now,
        "claimed_at": None,
    }


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try: doubling from 30 s to an hour, with jitter so retries do not flock."""
    base = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return base * (rng or random).uniform(0.75, 1.25)  # noqa: S311 (spreading load, not a secret)


def failure(delivery: Delivery, error: ChannelError, now: datetime) -> dict[str, Any]:
    """The row's new values: queued again (never before the network's `retry_at`, never at once) or failed."""
    values: dict[str, Any] = {"error_kind": error.kind.value, "error": error.reason, "claimed_at": None}
    if error.kind is ErrorKind.DUPLICATE and delivery.attempts > 1:
        # X has no idempotency key: an earlier attempt whose answer we lost did post this text.
        return {**values, "state": DeliveryState.POSTED, "finished_at": now}
    limit = MAX_RATE_LIMITED_ATTEMPTS if error.kind is ErrorKind.RATE_LIMITED else MAX_ATTEMPTS
    if error.retryable and delivery.attempts < limit:
        wait = now + timedelta(seconds=backoff(delivery.attempts))
        if error.retry_at is not None:  # the network said when: then, plus a little spread
            wait = max(error.retry_at + timedelta(seconds=random.uniform(1, 15)), now + timedelta(seconds=5))  # noqa: S311
        return {**values, "state": DeliveryState.QUEUED, "next_attempt_at": wait}
    return {**values, "state": DeliveryState.FAILED, "finished_at": now}


def sweep(now: datetime) -> int:
    """Return rows whose worker died mid-call to the queue, due at once. Safe to run twice or concurrently."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < now - timedelta(seconds=STALE_SECONDS))
        .values(state=DeliveryState.QUEUED, next_attempt_at=now, claimed_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    swept = int(getattr(result, "rowcount", 0) or 0)
    if swept:
        logger.warning("outbox: %s delivery(ies) returned to the queue after their worker stopped", swept)
    return swept


def cancel_for_account(account_id: int, reason: str, now: datetime) -> int:
    """Cancel what an account still had queued (it is being disconnected). Flushes; the caller commits."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.account_id == account_id, Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.CANCELLED, error=reason, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
