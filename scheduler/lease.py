"""One scheduler at a time: a lease row in the database, taken by whoever finds it free and renewed at each tick.

A second scheduler (another process, another machine, the reloader) finds the lease held and skips
its ticks; when the holder dies, its lease runs out after LEASE_SECONDS and the next tick of a
waiting scheduler takes it over, within a minute.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from scheduler.models import SchedulerLease

NAME = "scheduler"
LEASE_SECONDS = 45  # a holder renews every tick (the outbox ticks every 2 s); the setting SCHEDULER_LEASE_SECONDS
STALE_SECONDS = 120  # a heartbeat older than this tells admins that nothing ticks


def new_holder() -> str:
    """This scheduler's name in the lease: where it runs, and which process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hold(holder: str, now: datetime, *, seconds: int = LEASE_SECONDS) -> bool:
    """Take the lease if it is free or expired, or renew it if `holder` has it. Commits.

    Safe across processes: the renewal is a conditional UPDATE, and two first takers collide on the
    primary key (the loser is told it does not hold the lease).
    """
    values = {"holder": holder, "expires_at": now + timedelta(seconds=seconds), "heartbeat_at": now}
    taken = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0):
        db.session.commit()
        return True
    exists = db.session.scalar(select(SchedulerLease.name).where(SchedulerLease.name == NAME))
    if exists:
        db.session.rollback()
        return False
    try:
        db.session.add(SchedulerLease(name=NAME, **values))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def release(holder: str, now: datetime) -> None:
    """Let the lease go at once (a clean shutdown), so that a waiting scheduler need not wait it out."""
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, SchedulerLease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def heartbeat() -> datetime | None:
    """When a scheduler last ticked, or None when none ever did."""
    return db.session.scalar(select(SchedulerLease.heartbeat_at).where(SchedulerLease.name == NAME))


def is_stale(now: datetime) -> bool:
    beat = heartbeat()
    return beat is None or beat < now - timedelta(seconds=STALE_SECONDS)
