"""A wave's life after scheduling: pause, resume, cancel, close, and what a closing wave leaves behind.

Each move is a conditional UPDATE (`_move`), so two schedulers or a double click move a wave once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select, update

from campaign.labels import WAVE_CANCELLED, WAVE_CLOSED
from campaign.models import LIVE_STATES, Campaign, Wave, WaveStatus
from campaign.signals import campaign_ended
from database import changed
from extensions import db
from scheduler import outbox
from waves.models import PLEDGE, REMINDER, Pledge, PledgeState, Reminder
from waves.services import WaveError


def _move(wave: Wave, to: WaveStatus, allowed_from: Sequence[WaveStatus], now: datetime, **values: object) -> bool:
    """A conditional transition: False when another process moved the wave first."""
    moved = changed(
        db.session.execute(
            update(Wave)
            .where(Wave.id == wave.id, Wave.status.in_(allowed_from))
            .values(status=to, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.refresh(wave)
    return bool(moved)


def pause_wave(wave: Wave, now: datetime) -> None:
    """Hold an open wave: the page stops offering it and nothing is released. Raises WaveError."""
    if not _move(wave, WaveStatus.PAUSED, [WaveStatus.OPEN], now):
        raise WaveError(_("Only an open wave can be paused."))


def resume_wave(wave: Wave, now: datetime) -> None:
    """Reopen a paused wave (it closes at once if its window ended meanwhile). Raises WaveError."""
    if wave.status is not WaveStatus.PAUSED:
        raise WaveError(_("Only a paused wave can be resumed."))
    if wave.closes_at <= now:
        close_wave(wave, now)
        raise WaveError(_("The wave's window ended while it was paused: it is closed."))
    _move(wave, WaveStatus.OPEN, [WaveStatus.PAUSED], now)


def cancel_wave(wave: Wave, now: datetime) -> None:
    """Call the wave off: pledges not yet released and reminders not yet sent are cancelled. Raises WaveError."""
    if not _move(wave, WaveStatus.CANCELLED, LIVE_STATES, now, closed_at=now):
        raise WaveError(_("This wave is over already."))
    wind_down(wave, WAVE_CANCELLED, now)


def cancel_campaign_waves(campaign: Campaign, now: datetime) -> int:
    """Call off the campaign's waves that have not ended (the campaign is ending); returns how many."""
    waves = db.session.scalars(select(Wave).where(Wave.campaign_id == campaign.id, Wave.status.in_(LIVE_STATES)))
    cancelled = 0
    for wave in waves:
        try:
            cancel_wave(wave, now)
        except WaveError:
            continue  # it ended meanwhile
        cancelled += 1
    return cancelled


def close_wave(wave: Wave, now: datetime) -> bool:
    """Close the wave at the end of its window. Safe twice: only one call moves it."""
    if not _move(wave, WaveStatus.CLOSED, LIVE_STATES, now, closed_at=now):
        return False
    wind_down(wave, WAVE_CLOSED, now)
    return True


def wind_down(wave: Wave, reason: str, now: datetime) -> None:
    """What a closing or cancelled wave leaves: pledges not released and reminders not sent are cancelled."""
    db.session.execute(
        update(Pledge)
        .where(Pledge.wave_id == wave.id, Pledge.state == PledgeState.PLEDGED)
        .values(state=PledgeState.CANCELLED, reason=reason)
        .execution_options(synchronize_session=False)
    )
    reminders = select(Reminder.id).where(Reminder.wave_id == wave.id)
    outbox.cancel_refs(REMINDER, reminders, reason, now)
    if wave.status is WaveStatus.CANCELLED:
        released = select(Pledge.id).where(Pledge.wave_id == wave.id, Pledge.state == PledgeState.RELEASED)
        outbox.cancel_refs(PLEDGE, released, reason, now)


def _on_campaign_ended(campaign: Campaign, *, now: datetime) -> None:
    cancel_campaign_waves(campaign, now)


def init_app(app: Flask) -> None:
    """Call off a campaign's waves when it ends, in the transaction that ends it."""
    campaign_ended.connect(_on_campaign_ended, weak=False)
