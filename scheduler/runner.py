"""Embedded mode's machinery in the serving process: the periodic jobs (APScheduler) and the delivery threads.

Started by the gunicorn hook `scheduler/gunicorn_embedded.py` that `make run` uses, never by the app
factory: tests, the CLI and other web nodes start nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from database import utcnow
from extensions import db
from scheduler import JobRegistry, JobSpec
from scheduler.dispatch import EXTENSION, ThreadDispatcher

logger = logging.getLogger(__name__)


def _run(app: Flask, job: JobSpec) -> None:
    with app.app_context():
        try:
            job.func(utcnow())
        except Exception:
            logger.exception("job %s failed; it runs again at its next tick", job.name)
            db.session.rollback()
        finally:
            db.session.remove()


def start_embedded(app: Flask) -> BackgroundScheduler:
    """Start the delivery threads and tick every registered job in a background thread of this process."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick every two seconds says nothing
    app.extensions[EXTENSION] = ThreadDispatcher(app, workers=int(app.config["DELIVERY_WORKERS"]))
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    )
    registry: JobRegistry = app.extensions["porte_voix_jobs"]
    for job in registry:
        scheduler.add_job(
            _run, "interval", seconds=job.every_seconds, args=(app, job), id=job.name, next_run_time=utcnow()
        )
    scheduler.start()
    logger.info("embedded scheduler: %s job(s), %s delivery thread(s)", len(registry), app.config["DELIVERY_WORKERS"])
    return scheduler


def stop_embedded(app: Flask, scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=False)
    dispatcher: ThreadDispatcher | None = app.extensions.pop(EXTENSION, None)
    if dispatcher is not None:
        dispatcher.shutdown(wait=False)
