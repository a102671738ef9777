"""Distributed dispatch: the same `outbox.process_batch`, run by Celery workers over Redis (or RabbitMQ).

The row is the truth and the message only a nudge: a task carries a batch of delivery ids (and a task
id of its own), `acks_late` keeps a message until its task ends, and a message lost with a killed worker
is made up for by the scheduler (`sweep` returns stale claims; `take_due` hands over again a row still
unclaimed a minute after it was sent). The claim makes a repeated message harmless.

Run workers with `celery -A celery_worker worker --pool threads --concurrency 16`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Celery, Task
from flask import Flask
from sqlalchemy import update

from database import utcnow
from extensions import db
from scheduler import outbox
from scheduler.models import Delivery

logger = logging.getLogger(__name__)
EXTENSION = "porte_voix_celery"
TASK = "porte_voix.deliver_batch"
SINGLE_TASK = "porte_voix.deliver"  # one id: what earlier releases sent, still taken from a queue they filled
BACKLOG = 1000  # rows handed to the broker, not yet claimed, at most (CELERY_BACKLOG); the rest waits in the database


def init_app(app: Flask) -> Celery:
    """The Celery app bound to this Flask app (building it connects to nothing)."""

    class AppTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    celery = Celery("porte_voix", broker=app.config["CELERY_BROKER_URL"], task_cls=AppTask)
    celery.conf.update(
        task_default_queue=app.config["CELERY_QUEUE"],
        task_acks_late=True,  # a message leaves the broker when its task ends, not when it starts
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # the row is the result
        # With the threads pool over Redis, a worker at its prefetch limit fetches again only when its
        # event loop next wakes (about once a second): 4 a thread kept 12 threads near 40 deliveries a
        # second with the queue full. 32 a thread keeps them busy; what a killed worker had reserved is
        # handed over again after OUTBOX_REDISPATCH_SECONDS, like any lost message.
        worker_prefetch_multiplier=32,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 600},
        worker_hijack_root_logger=False,
    )

    @celery.task(name=TASK)
    def deliver_batch(delivery_ids: list[int]) -> int:
        return len(outbox.process_batch(delivery_ids, app.extensions["porte_voix_outbox"]))

    @celery.task(name=SINGLE_TASK)
    def deliver(delivery_id: int) -> int:
        return len(outbox.process_batch([delivery_id], app.extensions["porte_voix_outbox"]))

    app.extensions[EXTENSION] = celery
    return celery


def _send(celery: Celery, delivery_ids: list[int], now: datetime, *, batch: int = 1) -> None:
    """One task per `batch` ids (a click's row goes alone, at once)."""
    stamp = int(now.timestamp() * 1000)
    with celery.producer_or_acquire() as producer:
        for start in range(0, len(delivery_ids), batch):
            ids = delivery_ids[start : start + batch]
            task_id = f"deliveries-{ids[0]}-{len(ids)}-{stamp}"
            celery.send_task(TASK, args=[ids], task_id=task_id, producer=producer)


def send_now(app: Flask, delivery_id: int) -> None:
    """Hand one row to the workers at once (a supporter's click), marked so the tick does not send it again."""
    now = utcnow()
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    try:
        _send(app.extensions[EXTENSION], [delivery_id], now)
    except Exception:  # the broker is down: the tick sends it again within a minute
        logger.exception("delivery %s: the broker refused it; the scheduler will send it again", delivery_id)


class CeleryDispatcher:
    """The scheduler's side in distributed mode: each tick hands what is due to the broker."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.celery: Celery = app.extensions[EXTENSION]

    def submit(self, delivery_id: int) -> bool:
        send_now(self.app, delivery_id)
        return True

    def drain_due(self, now: datetime) -> int:
        # Kept small enough for the workers to drain well within OUTBOX_REDISPATCH_SECONDS: a row still
        # unclaimed after that is sent again, and a flooded queue would be sent again and again.
        room = int(self.app.config.get("CELERY_BACKLOG", BACKLOG)) - outbox.waiting_in_queue(now)
        if room <= 0:
            return 0
        ids = outbox.take_due(now, limit=room)
        if ids:
            _send(self.celery, ids, now, batch=outbox.batch_size())
        return len(ids)

    def shutdown(self, *, wait: bool = True) -> None:
        """Nothing to stop: the workers are other processes."""
