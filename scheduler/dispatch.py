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
    """`workers` threads, each taking due rows from the outbox (a batch at a time) and delivering them."""

    def __init__(self, app: Flask, *, workers: int) -> None:
        self.app = app
        self.workers = workers
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

    def _next(self) -> int | None:
        with self._lock:
            while self._ready:
                delivery_id = self._ready.popleft()
                if delivery_id not in self._in_flight:
                    self._in_flight.add(delivery_id)
                    return delivery_id
        if time.monotonic() - self._found_nothing_at < IDLE_SECONDS:
            return None
        if not self._refill.acquire(blocking=False):  # another thread is reading the outbox
            return None
        try:
            with self.app.app_context():
                try:
                    ids = outbox.take_due(utcnow(), limit=self.workers * 4)
                finally:
                    db.session.remove()
        finally:
            self._refill.release()
        with self._lock:
            self._ready.extend(ids)
        if ids:
            self._wake.set()
            return self._next()
        self._found_nothing_at = time.monotonic()
        return None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                delivery_id = self._next()
            except Exception:
                logger.exception("delivery threads: reading the outbox failed; trying again")
                delivery_id = None
            if delivery_id is None:
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()
                continue
            self._work(delivery_id)

    def _work(self, delivery_id: int) -> None:
        try:
            with self.app.app_context():
                try:
                    outbox.process(delivery_id, self.app.extensions[OUTBOX])
                finally:
                    db.session.remove()
        except Exception:
            logger.exception("delivery %s: worker failed; the sweeper will return it to the queue", delivery_id)
        finally:
            with self._lock:
                self._in_flight.discard(delivery_id)

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
