"""The scheduler's own periodic work: the outbox tick."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from extensions import db
from scheduler import outbox
from scheduler.dispatch import EXTENSION, Dispatcher


def tick_outbox(now: datetime) -> int:
    """Return dead workers' rows to the queue, then hand what is due to the workers (threads or Celery).

    Safe to run twice or in two processes: the sweep and the claims are conditional updates.
    """
    outbox.sweep(now)
    db.session.commit()
    dispatcher: Dispatcher | None = current_app.extensions.get(EXTENSION)
    return dispatcher.drain_due(now) if dispatcher is not None else 0
