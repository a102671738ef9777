"""Dispatch: who runs the outbox's rows. Embedded mode: a pool of threads in this process that pull due
rows themselves. Distributed mode: Celery workers, fed by the scheduler's tick (`scheduler.celery`).

Ids, not objects, cross into threads and queues; each worker has its own app context and session. The
database claim makes a double hand-over harmless; `take_due` marks what was handed over, so that a row
comes back only when it is due again or its message was lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime
from typing import Protocol

from flask import Flask

from database import utcnow
from extensions import db
from scheduler import outbox

logger = logging.getLogger(__name__)
EXTENSION = "porte_voix_dispatch"
OUTBOX = "porte_voix_outbox"
IDLE_SECONDS = 1.0  # how long an idle worker thread waits before looking at the outbox again


class Dispatcher(Protocol):
    def submit(self, delivery_id: int) -> bool: ...

    def drain_due(self, now: datetime) -> int: ...

    def shutdown(self, *, wait: bool = True) -> None: ...


class ThreadDispatcher:
    """`workers` threads, each claiming a batch of due rows from the outbox and delivering them."""

    def __init__(self, app: Flask, *, workers: int) -> None:
        self.app = app
        self.workers = workers
        with app.app_context():
            self.batch = outbox.batch_size()
        self._ready: deque[int] = deque()
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        self._refill = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._found_nothing_at = 0.0  # idle threads do not all read an empty outbox every second
        self._threads = [threading.Thread(target=self._loop, name=f"delivery-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, delivery_id: int) -> bool:
        """Deliver this row next (a supporter just clicked); False when it is in flight already."""
        with self._lock:
            if delivery_id in self._in_flight:
                return False
            self._ready.appendleft(delivery_id)
        self._wake.set()
        return True

    def drain_due(self, now: datetime) -> int:
        """Wake the threads: they take what is due themselves."""
        self._found_nothing_at = 0.0
        self._wake.set()
        return len(self._ready)

    def _take(self) -> list[int]:
        """Up to a batch of ready ids, marked in flight: a fair share of what is ready, so that a few rows
        (supporters' clicks) go out side by side rather than one after another in one thread."""
        with self._lock:
            share = min(self.batch, max(1, len(self._ready) // self.workers))
            taken: list[int] = []
            while self._ready and len(taken) < share:
                delivery_id = self._ready.popleft()
                if delivery_id not in self._in_flight:
                    self._in_flight.add(delivery_id)
                    taken.append(delivery_id)
            return taken

    def _next(self) -> list[int]:
        """A batch to deliver; the outbox is read again once fewer than one full batch a thread is ready, so that
        batches stay full while a wave drains (not only once the queue is empty)."""
        taken = self._take()
        if len(self._ready) >= self.workers * self.batch:
            return taken
        if time.monotonic() - self._found_nothing_at < IDLE_SECONDS:
            return taken
        if not self._refill.acquire(blocking=False):  # another thread is reading the outbox
            return taken
        try:
            with self.app.app_context():
                try:
                    ids = outbox.take_due(utcnow(), limit=self.workers * self.batch * 2)
                finally:
                    db.session.remove()
        finally:
            self._refill.release()
        with self._lock:
            fresh = [delivery_id for delivery_id in ids if delivery_id not in self._in_flight]
            known = set(self._ready)
            self._ready.extend(delivery_id for delivery_id in fresh if delivery_id not in known)
        if ids:
            self._wake.set()
            return taken or self._take()
        if not taken:
            self._found_nothing_at = time.monotonic()
        return taken

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ids = self._next()
            except Exception:
                logger.exception("delivery threads: reading the outbox failed; trying again")
                ids = []
            if not ids:
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()
                continue
            self._work(ids)

    def _work(self, ids: list[int]) -> None:
        try:
            with self.app.app_context():
                try:
                    outbox.process_batch(ids, self.app.extensions[OUTBOX])
                finally:
                    db.session.remove()
        except Exception:
            logger.exception("deliveries %s: worker failed; the sweeper will return them to the queue", ids)
        finally:
            with self._lock:
                self._in_flight.difference_update(ids)

    def shutdown(self, *, wait: bool = True) -> None:
        self._stopping.set()
        self._wake.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=30)


def notify(app: Flask, delivery_id: int) -> None:
    """After the commit that queued it: start the delivery now where this process can (else the tick will)."""
    dispatcher: Dispatcher | None = app.extensions.get(EXTENSION)
    if dispatcher is not None:
        dispatcher.submit(delivery_id)
        return
    if app.config.get("DISPATCH") == "celery":  # a web node in distributed mode: straight to the workers
        from scheduler.celery import send_now

        send_now(app, delivery_id)
