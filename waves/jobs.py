"""The scheduler's wave work: open and close windows, queue each subscriber's reminder once, wind down.

Every step is a conditional UPDATE or guarded by a unique key, so a second scheduler, a restart or a
repeated tick changes nothing: a wave opens once (SCHEDULED → OPEN moves one row once), and a reminder
exists once per (wave, subscription).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from campaign.models import Campaign, CampaignStatus, Wave, WaveStatus, WaveTarget
from channels import Network
from database import changed
from extensions import db
from scheduler.models import Delivery
from waves.life import close_wave
from waves.models import REMINDER, Reminder, Subscription, SubscriptionState
from waves.pledges import schedule_releases
from waves.services import ASSIGNED_PER_REMINDER

logger = logging.getLogger(__name__)

REMINDER_BATCH = 5000


def open_due_waves(now: datetime) -> int:
    """Open every scheduled wave whose window has started, if its campaign is live. Safe twice or concurrently."""
    due = db.session.scalars(
        select(Wave.id)
        .join(Campaign, Campaign.id == Wave.campaign_id)
        .where(
            Wave.status == WaveStatus.SCHEDULED,
            Wave.opens_at <= now,
            Wave.closes_at > now,
            Campaign.status == CampaignStatus.LIVE,  # a paused campaign's wave waits (and closes unopened)
        )
    ).all()
    opened = 0
    for wave_id in due:
        moved = changed(
            db.session.execute(
                update(Wave)
                .where(Wave.id == wave_id, Wave.status == WaveStatus.SCHEDULED)
                .values(status=WaveStatus.OPEN, opened_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        )
        if moved:  # a second scheduler sees 0 and skips
            schedule_releases(db.session.get_one(Wave, wave_id), now)
            opened += 1
            logger.info("wave %s opened", wave_id)
        db.session.commit()
    return opened


def close_due_waves(now: datetime) -> int:
    """Close every wave whose window has ended (opened or not). Safe twice or concurrently."""
    due = db.session.scalars(
        select(Wave).where(
            Wave.status.in_((WaveStatus.SCHEDULED, WaveStatus.OPEN, WaveStatus.PAUSED)), Wave.closes_at <= now
        )
    ).all()
    closed = 0
    for wave in due:
        closed += close_wave(wave, now)
        db.session.commit()
    return closed


def tick_waves(now: datetime) -> int:
    """The scheduler's job: close what ended, then open what starts."""
    return close_due_waves(now) + open_due_waves(now)


def reminder_slot(wave: Wave, seq: int, targets: int, now: datetime) -> datetime:
    """When reminder `seq` goes out: as many per hour as the targets' caps can take (each link offers
    ASSIGNED_PER_REMINDER targets), the later hours' share held back, never past the window's last hour.
    """
    per_hour = max(1, targets * wave.cap_per_hour // ASSIGNED_PER_REMINDER)
    start = max(now, wave.opened_at or wave.opens_at)
    last_hour = max(0, math.ceil((wave.closes_at - start).total_seconds() / 3600) - 1)
    return start + timedelta(hours=min(seq // per_hour, last_hour))


def queue_reminders(now: datetime, *, batch: int = REMINDER_BATCH) -> int:
    """Queue the reminder of every confirmed subscriber of every open wave who has none yet.

    Runs until none is left (a subscriber confirmed during the wave gets theirs too). Safe twice or in
    two processes: the (wave, subscription) pair is unique, and a losing insert rolls back whole.
    """
    queued = 0
    for wave in db.session.scalars(select(Wave).where(Wave.status == WaveStatus.OPEN, Wave.closes_at > now)).all():
        queued += _queue_for(wave, now, batch)
    return queued


def _queue_for(wave: Wave, now: datetime, batch: int) -> int:
    targets = int(db.session.scalar(select(func.count()).where(WaveTarget.wave_id == wave.id)) or 0)
    total = 0
    while True:
        waiting = db.session.execute(
            select(Subscription.id, Subscription.language)
            .where(
                Subscription.campaign_id == wave.campaign_id,
                Subscription.state == SubscriptionState.CONFIRMED,
                ~select(Reminder.id)
                .where(Reminder.wave_id == wave.id, Reminder.subscription_id == Subscription.id)
                .exists(),
            )
            .order_by(Subscription.id)
            .limit(batch)
        ).all()
        if not waiting:
            if wave.reminders_queued_at is None:
                wave.reminders_queued_at = now
                db.session.commit()
            return total
        first = int(db.session.scalar(select(func.count()).where(Reminder.wave_id == wave.id)) or 0)
        rows = [
            {"wave_id": wave.id, "subscription_id": sub_id, "seq": first + n, "created_at": now}
            for n, (sub_id, _language) in enumerate(waiting)
        ]
        ids = db.session.scalars(insert(Reminder).returning(Reminder.id, sort_by_parameter_order=True), rows).all()
        db.session.execute(
            insert(Delivery),
            [
                {
                    "kind": REMINDER,
                    "ref_id": reminder_id,
                    "network": Network.EMAIL,
                    "text": "",
                    "language": language,
                    "idempotency_key": f"reminder-{wave.id}-{sub_id}",
                    "next_attempt_at": reminder_slot(wave, row["seq"], targets, now),
                    "created_at": now,
                    "updated_at": now,
                }
                for reminder_id, row, (sub_id, language) in zip(ids, rows, waiting, strict=True)
            ],
        )
        db.session.commit()
        total += len(rows)
        logger.info("wave %s: %s reminder(s) queued", wave.id, len(rows))
