"""Embedded dispatch: a pool of threads in this process works the outbox.

`submit` hands a delivery id to the pool (at once after a click); `drain_due` submits whatever is
due (the periodic tick). Ids, not objects, cross into the threads; each thread has its own app
context and session. The database claim makes a double submit harmless.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from flask import Flask

from extensions import db
from scheduler import outbox

logger = logging.getLogger(__name__)
EXTENSION = "porte_voix_dispatch"


class ThreadDispatcher:
    def __init__(self, app: Flask, *, workers: int) -> None:
        self.app = app
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="delivery")
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()

    def submit(self, delivery_id: int) -> bool:
        """Queue the id for a worker thread; False when it is in flight already."""
        with self._lock:
            if delivery_id in self._in_flight:
                return False
            self._in_flight.add(delivery_id)
        self._pool.submit(self._work, delivery_id)
        return True

    def _work(self, delivery_id: int) -> None:
        try:
            with self.app.app_context():
                try:
                    outbox.process(delivery_id, self.app.extensions["porte_voix_outbox"])
                finally:
                    db.session.remove()
        except Exception:
            logger.exception("delivery %s: worker failed; the sweeper will return it to the queue", delivery_id)
        finally:
            with self._lock:
                self._in_flight.discard(delivery_id)

    def drain_due(self, now: datetime) -> int:
        """Submit every due delivery not in flight (up to what the pool can start soon)."""
        submitted = 0
        for delivery_id in outbox.due_ids(now, limit=self.workers * 8):
            submitted += self.submit(delivery_id)
        return submitted

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


def notify(app: Flask, delivery_id: int) -> None:
    """After the commit that queued it: start the delivery now if this process dispatches (else the tick will)."""
    dispatcher: ThreadDispatcher | None = app.extensions.get(EXTENSION)
    if dispatcher is not None:
        dispatcher.submit(delivery_id)
