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

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from database import changed, utcnow
from extensions import db
from scheduler.models import Delivery, DeliveryState

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # for a network that fails or does not answer
MAX_RATE_LIMITED_ATTEMPTS = 12  # waiting out rate limits is slower, not failing
BACKOFF_SECONDS = 30.0  # doubled at each attempt, up to an hour, ±25 % jitter (OUTBOX_BACKOFF_SECONDS)
MAX_BACKOFF_SECONDS = 3600.0
STALE_SECONDS = 120  # a SENDING row older than this lost its worker (OUTBOX_STALE_SECONDS)
REDISPATCH_SECONDS = 60  # a row handed to a queue and still unclaimed this long lost its message (OUTBOX_…)

Handler = Callable[[Delivery, datetime], PostResult]  # the row and the worker's clock
Listener = Callable[[Delivery, datetime], None]  # told of a row just recorded as posted, in that transaction


class Outbox:
    """The handlers packages register, one per delivery kind (the scheduler knows no kind itself)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._on_posted: dict[str, Listener] = {}

    def register(self, kind: str, handler: Handler, *, on_posted: Listener | None = None) -> None:
        """`on_posted` runs in the transaction that records the row as posted, exactly once per row."""
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is registered already")
        self._handlers[kind] = handler
        if on_posted is not None:
            self._on_posted[kind] = on_posted

    def handler(self, kind: str) -> Handler:
        return self._handlers[kind]

    def posted(self, delivery: Delivery, now: datetime) -> None:
        """Tell the kind's listener, in a savepoint: a listener that fails must not undo the record of a post
        the network made (the row would be swept and tried again)."""
        listener = self._on_posted.get(delivery.kind)
        if listener is None:
            return
        try:
            with db.session.begin_nested():
                listener(delivery, now)
        except Exception:
            logger.exception("delivery %s: posted, but its %s listener failed", delivery.id, delivery.kind)


def enqueue(
    *,
    kind: str,
    account_id: int | None,
    network: object,
    text: str,
    idempotency_key: str,
    language: str = "",
    ref_id: int | None = None,
    now: datetime | None = None,
) -> Delivery:
    """Add a delivery, due now. Flushes; the caller commits (and then may notify a dispatcher)."""
    delivery = Delivery(
        kind=kind,
        ref_id=ref_id,
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


def _redispatch_after() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("OUTBOX_REDISPATCH_SECONDS", REDISPATCH_SECONDS)))


def _undispatched(now: datetime) -> Any:
    return or_(Delivery.dispatched_at.is_(None), Delivery.dispatched_at < now - _redispatch_after())


def take_due(now: datetime, *, limit: int = 500) -> list[int]:
    """Mark up to `limit` due rows as handed to a queue and return their ids; commits.

    A row comes back here only once it is due again (a retry) or its message was lost (still unclaimed
    `REDISPATCH_SECONDS` later), so a queue never holds a row twice for long. Concurrent callers may
    both take a row: the claim, not this, is what makes a delivery happen once.
    """
    ids = list(
        db.session.scalars(
            select(Delivery.id)
            .where(Delivery.state == DeliveryState.QUEUED, Delivery.next_attempt_at <= now, _undispatched(now))
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
    )
    if ids:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.state == DeliveryState.QUEUED)
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return ids


def waiting_in_queue(now: datetime) -> int:
    """Rows handed to a queue recently and not claimed yet (the broker's backlog, as the database sees it)."""
    return int(
        db.session.scalar(
            select(func.count()).where(
                Delivery.state == DeliveryState.QUEUED,
                Delivery.dispatched_at >= now - _redispatch_after(),
            )
        )
        or 0
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
    if not changed(recorded):
        db.session.commit()  # what the handler changed (the account's rate budget) still stands
        logger.warning("delivery %s: taken over by another worker before this one recorded it", delivery_id)
        return None
    if outcome["state"] is DeliveryState.POSTED:
        outbox.posted(delivery, now)  # the claim makes this once per row: only one worker records it
    db.session.commit()  # with what the handler changed (the account's rate budget)
    return DeliveryState(outcome["state"])


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
    if error.retryable and delivery.attempts < limit:
        first = float(current_app.config.get("OUTBOX_BACKOFF_SECONDS", BACKOFF_SECONDS))
        wait = now + timedelta(seconds=backoff(delivery.attempts, first=first))
        if error.retry_at is not None:  # the network said when: then, plus a little spread
            spread = timedelta(seconds=random.uniform(1, 15) * min(1.0, first / BACKOFF_SECONDS))  # noqa: S311
            wait = max(error.retry_at + spread, now + timedelta(seconds=min(5.0, first)))
        return {**values, "state": DeliveryState.QUEUED, "next_attempt_at": wait}
    return {**values, "state": DeliveryState.FAILED, "finished_at": now}


def sweep(now: datetime) -> int:
    """Return rows whose worker died mid-call to the queue, due at once. Safe to run twice or concurrently."""
    stale = timedelta(seconds=int(current_app.config.get("OUTBOX_STALE_SECONDS", STALE_SECONDS)))
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < now - stale)
        .values(state=DeliveryState.QUEUED, next_attempt_at=now, claimed_at=None, dispatched_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    swept = changed(result)
    if swept:
        logger.warning("outbox: %s delivery(ies) returned to the queue after their worker stopped", swept)
    return swept


def cancel_for_account(account_id: int, reason: str, now: datetime) -> int:
    """Cancel what an account still had queued (it is being disconnected). Flushes; the caller commits."""
    return _cancel(Delivery.account_id == account_id, reason, now)


def cancel_refs(kind: str, ref_ids: Any, reason: str, now: datetime) -> int:
    """Cancel the queued deliveries of `kind` for these rows (ids, or a select of ids). The caller commits."""
    return _cancel(and_(Delivery.kind == kind, Delivery.ref_id.in_(ref_ids)), reason, now)


def _cancel(which: Any, reason: str, now: datetime) -> int:
    result = db.session.execute(
        update(Delivery)
        .where(which, Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.CANCELLED, error=reason, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result)
