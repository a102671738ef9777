"""The delivery outbox: claim due rows, run their kind's handler, record the outcomes; sweep what a dead worker left.

The database row is the truth. A worker claims a batch of rows with one conditional UPDATE (`FOR UPDATE
SKIP LOCKED` on PostgreSQL, so two workers take different rows; a row another worker has is skipped),
commits, and only then calls the networks, one row after another; a worker that dies mid-batch leaves
its rows in SENDING, and `sweep` returns them to the queue. A retry then cannot post twice: Mastodon
answers a repeated `Idempotency-Key` with the first post, a Bluesky retry looks for our record key
first, and X's "duplicate content" on a retry means the first attempt did post.

The outbox owns the transaction: handlers leave what they learn (an account's budget, a bounced address)
in the session and never commit; the batch's outcomes are recorded with it in one transaction, by one
`executemany` per shape of outcome, and only the rows still this claim's are recorded.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, and_, bindparam, func, or_, select, update

from channels import Network
from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from database import changed, utcnow
from extensions import db
from scheduler.models import Delivery, DeliveryState
from scheduler.outcomes import failure, released, success

logger = logging.getLogger(__name__)

STALE_SECONDS = 120  # a SENDING row older than this lost its worker (OUTBOX_STALE_SECONDS)
REDISPATCH_SECONDS = 60  # a row handed to a queue and still unclaimed this long lost its message (OUTBOX_…)
BATCH = 16  # rows a worker claims at most in one statement (OUTBOX_BATCH)

Handler = Callable[[Delivery, datetime], PostResult]  # the row and the worker's clock
Loader = Callable[[list[Delivery]], list[Any]]  # a batch's rows → the objects their handlers read, in one query
Listener = Callable[[list[Delivery], datetime], None]  # told of the rows just recorded as posted, in that transaction


class Outbox:
    """The handlers packages register, one per delivery kind (the scheduler knows no kind itself)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._loaders: dict[str, Loader] = {}
        self._on_posted: dict[str, Listener] = {}

    def register(
        self, kind: str, handler: Handler, *, load: Loader | None = None, on_posted: Listener | None = None
    ) -> None:
        """`load` reads in one query what the handler reads for a batch of rows, into the session, where the
        handler then finds it by primary key (`Session.get` answers from the identity map without a query);
        `on_posted` runs in the transaction that records rows as posted, exactly once per row.
        """
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is registered already")
        self._handlers[kind] = handler
        if load is not None:
            self._loaders[kind] = load
        if on_posted is not None:
            self._on_posted[kind] = on_posted

    def handler(self, kind: str) -> Handler:
        return self._handlers[kind]

    def load(self, deliveries: list[Delivery]) -> list[Any]:
        """What the batch's loaders read (held for the batch: the identity map keeps only what is referenced)."""
        loaded: list[Any] = []
        for kind, rows in _by_kind(deliveries).items():
            loader = self._loaders.get(kind)
            if loader is not None:
                loaded.extend(loader(rows))
        return loaded

    def posted(self, deliveries: list[Delivery], now: datetime) -> None:
        """Tell each kind's listener, in a savepoint: a listener that fails must not undo the record of posts
        the networks made (the rows would be swept and tried again). A batch whose listener fails is told
        again row by row, so that one bad row does not cost the others their count."""
        for kind, rows in _by_kind(deliveries).items():
            listener = self._on_posted.get(kind)
            if listener is None:
                continue
            for group in [rows] if len(rows) == 1 else [rows, *([row] for row in rows)]:
                try:
                    with db.session.begin_nested():
                        listener(group, now)
                except Exception:
                    if len(group) == 1:
                        logger.exception("delivery %s: posted, but its %s listener failed", group[0].id, kind)
                    continue
                break


def _by_kind(deliveries: Iterable[Delivery]) -> dict[str, list[Delivery]]:
    groups: defaultdict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        groups[delivery.kind].append(delivery)
    return groups


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


def enqueue_email(kind: str, ref_id: int | None, *, key: str, language: str, now: datetime) -> Delivery:
    """Queue an e-mail that the handler of `kind` writes when it sends it, from the row `ref_id` names."""
    return enqueue(
        kind=kind,
        account_id=None,
        network=Network.EMAIL,
        text="",
        idempotency_key=key,
        language=language,
        ref_id=ref_id,
        now=now,
    )


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


def batch_size() -> int:
    return max(1, int(current_app.config.get("OUTBOX_BATCH", BATCH)))


def claim(ids: Sequence[int] | None, now: datetime, *, limit: int | None = None) -> list[Delivery]:
    """Take up to `limit` due rows (of `ids`, or any) for this worker in one statement, counting the attempt;
    returns them as claimed, detached from the session, in the order asked (else the oldest due first).
    Rows not due, or another worker's, are left out; on PostgreSQL rows another worker is claiming are skipped
    rather than waited for. Commits.
    """
    limit = limit or (len(ids) if ids is not None else batch_size())
    if ids is not None and not ids:
        return []
    due = select(Delivery.id).where(Delivery.state == DeliveryState.QUEUED, Delivery.next_attempt_at <= now)
    if ids is not None:
        due = due.where(Delivery.id.in_(list(ids)))
    due = due.order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = db.session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()), Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.SENDING, claimed_at=now, attempts=Delivery.attempts + 1, updated_at=now)
        .returning(Delivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    for delivery in claimed:
        db.session.expunge(delivery)  # a commit expires what the session holds; the claimed rows stay as read
    db.session.commit()
    order = {delivery_id: n for n, delivery_id in enumerate(ids or ())}
    return sorted(claimed, key=lambda d: (order.get(d.id, 0), d.next_attempt_at, d.id))


def process(delivery_id: int, outbox: Outbox, *, now: datetime | None = None) -> DeliveryState | None:
    """Claim, deliver and record one row; None when it was not ours to take. Safe to call twice or concurrently."""
    return process_batch([delivery_id], outbox, now=now).get(delivery_id)


def process_batch(
    ids: Sequence[int] | None, outbox: Outbox, *, now: datetime | None = None, limit: int | None = None
) -> dict[int, DeliveryState]:
    """Claim these rows (or up to `limit` due ones), deliver them one after another and record every outcome in
    one transaction. Returns the recorded state of each row that was this worker's. Safe to call concurrently.
    """
    now = now or utcnow()
    deliveries = claim(ids, now, limit=limit)
    if not deliveries:
        return {}
    outcomes = deliver_batch(deliveries, outbox, now)
    return record(deliveries, outcomes, outbox, now)


def deliver_batch(deliveries: list[Delivery], outbox: Outbox, now: datetime) -> dict[int, dict[str, Any]]:
    """Run each claimed row's handler; the rows' new values, by id. Rows not started before half the stale
    time has passed since the claim are released (the sweeper must never hand a row we may still send)."""
    stale = float(current_app.config.get("OUTBOX_STALE_SECONDS", STALE_SECONDS))
    outcomes: dict[int, dict[str, Any]] = {}
    with db.session.no_autoflush:  # nothing is written before the record: a refresh commits on its own, unblocked
        loaded = outbox.load(deliveries)
        for delivery in deliveries:
            if (utcnow() - now).total_seconds() > stale / 2:
                outcomes[delivery.id] = released(delivery)
                continue
            try:
                result = outbox.handler(delivery.kind)(delivery, now)
            except ChannelError as error:
                outcomes[delivery.id] = failure(delivery, error, now)
            except Exception:
                logger.exception("delivery %s: handler crashed", delivery.id)
                # A bug, not a network's answer: what the handlers left in the session may be half-done.
                db.session.rollback()
                outcomes[delivery.id] = failure(delivery, ChannelError(ErrorKind.UNAVAILABLE, "internal error"), now)
            else:
                outcomes[delivery.id] = success(result, now)
        del loaded
    return outcomes


def record(
    deliveries: list[Delivery], outcomes: dict[int, dict[str, Any]], outbox: Outbox, now: datetime
) -> dict[int, DeliveryState]:
    """Record the outcomes, only where a row is still this claim (a worker that outlived the sweeper must not
    overwrite the next one), with what the handlers left in the session; one `executemany` per shape of
    outcome, one commit. Returns the states recorded, by id."""
    shapes: defaultdict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for delivery_id, values in outcomes.items():
        shapes[tuple(sorted(values))].append({"b_id": delivery_id, **values})
    expected, written = len(outcomes), 0
    table = cast(Table, Delivery.__table__)
    for columns, rows in shapes.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.state == DeliveryState.SENDING, table.c.claimed_at == now)
            .values({**{column: bindparam(column) for column in columns}, "updated_at": now})
        )
        written += changed(db.session.execute(statement, rows))
    if written == expected:
        ours = set(outcomes)
    else:  # some were taken over: ours are those whose last change is this claim's record
        ours = set(
            db.session.scalars(
                select(Delivery.id).where(
                    Delivery.id.in_(list(outcomes)),
                    Delivery.updated_at == now,
                    Delivery.state != DeliveryState.SENDING,
                )
            )
        )
        for delivery_id in set(outcomes) - ours:
            logger.warning("delivery %s: taken over by another worker before this one recorded it", delivery_id)
    posted = [d for d in deliveries if d.id in ours and outcomes[d.id]["state"] is DeliveryState.POSTED]
    if posted:
        outbox.posted(posted, now)  # the claim makes this once per row: only one worker records it
    db.session.commit()  # with what the handlers changed (an account's budget, a bounced address)
    return {delivery_id: DeliveryState(outcomes[delivery_id]["state"]) for delivery_id in ours}


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
