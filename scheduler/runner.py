"""The scheduler: the registered jobs ticked by APScheduler 3, only while this process holds the lease.

Embedded mode (`make run`) starts it in a thread of the serving process, with the delivery threads,
from the gunicorn hook `scheduler/gunicorn_embedded.py`; `flask scheduler run` runs it as a process
of its own. The app factory never starts it: tests, the CLI and other web nodes tick nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from database import utcnow
from extensions import db
from scheduler import JobRegistry, JobSpec, lease
from scheduler.dispatch import EXTENSION, Dispatcher, ThreadDispatcher

logger = logging.getLogger(__name__)
HOLDER = "porte_voix_scheduler_holder"


def tick(app: Flask, job: JobSpec, holder: str) -> bool:
    """Run `job` once if this scheduler holds (or can take) the lease; False when another one does."""
    with app.app_context():
        try:
            now = utcnow()
            if not lease.hold(holder, now, seconds=int(app.config["SCHEDULER_LEASE_SECONDS"])):
                return False
            job.func(now)
            return True
        except Exception:
            logger.exception("job %s failed; it runs again at its next tick", job.name)
            db.session.rollback()
            return True
        finally:
            db.session.remove()


def _schedule(app: Flask, scheduler: BaseScheduler) -> str:
    """Add every registered job to `scheduler`, and the delivery threads to the app; returns the holder name."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick every two seconds says nothing
    holder = app.extensions[HOLDER] = lease.new_holder()
    app.extensions[EXTENSION] = dispatcher(app)
    registry: JobRegistry = app.extensions["porte_voix_jobs"]
    for job in registry:
        scheduler.add_job(
            tick,
            "interval",
            seconds=job.every_seconds,
            args=(app, job, holder),
            id=job.name,
            name=job.name,
            next_run_time=utcnow(),
        )
    logger.info("scheduler %s: %s job(s), dispatch by %s", holder, len(registry), app.config["DISPATCH"])
    return holder


def dispatcher(app: Flask) -> Dispatcher:
    """Threads in this process (embedded mode), or the Celery workers (distributed mode)."""
    if app.config["DISPATCH"] == "celery":
        from scheduler.celery import CeleryDispatcher

        return CeleryDispatcher(app)
    return ThreadDispatcher(app, workers=int(app.config["DELIVERY_WORKERS"]))


def _job_defaults() -> dict[str, object]:
    return {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def start_embedded(app: Flask) -> BackgroundScheduler:
    """Tick the jobs in a background thread of this process (embedded mode)."""
    scheduler = BackgroundScheduler(timezone=UTC, job_defaults=_job_defaults())
    _schedule(app, scheduler)
    scheduler.start()
    return scheduler


def stop_embedded(app: Flask, scheduler: BaseScheduler) -> None:
    scheduler.shutdown(wait=False)
    _let_go(app)


def run_forever(app: Flask) -> None:
    """Tick the jobs in this process until it is stopped (`flask scheduler run`), then let the lease go."""
    scheduler = BlockingScheduler(timezone=UTC, job_defaults=_job_defaults())
    _schedule(app, scheduler)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        _let_go(app)


def _let_go(app: Flask) -> None:
    running: Dispatcher | None = app.extensions.pop(EXTENSION, None)
    if running is not None:
        running.shutdown(wait=False)
    holder = app.extensions.pop(HOLDER, None)
    if holder:
        with app.app_context():
            lease.release(holder, utcnow())
            db.session.remove()
