"""Waves: scheduling and validating windows, their life (open, pause, resume, cancel, close), and what the
supporter page offers while one is open (its targets under the per-target cap, its messages, its networks).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from campaign.models import (
    LIVE_STATES,
    Campaign,
    CampaignStatus,
    Wave,
    WaveStatus,
    WaveTarget,
)
from channels import Network
from extensions import db
from waves.changes import apply_change, wave_change
from waves.pledges import schedule_releases
from waves.targets import matching_target_ids, usable_message_ids

logger = logging.getLogger(__name__)
DEFAULT_CAP = 30  # messages per target per hour, across all campaigns
MAX_CAP = 1000
PAST_GRACE = timedelta(minutes=1)  # a window typed "now" is not in the past
ASSIGNED_PER_REMINDER = 3  # targets a personal link offers, in turn


class WaveError(ValueError):
    """A wave that cannot be scheduled or moved as asked; the message says why, for the organiser."""


def overlapping(
    campaign: Campaign, opens_at: datetime, closes_at: datetime, *, other_than: int | None = None
) -> Wave | None:
    query = select(Wave).where(
        Wave.campaign_id == campaign.id,
        Wave.status.in_(LIVE_STATES),
        Wave.opens_at < closes_at,
        Wave.closes_at > opens_at,
    )
    if other_than is not None:
        query = query.where(Wave.id != other_than)
    return db.session.scalars(query.limit(1)).first()


def schedule_wave(
    campaign: Campaign,
    *,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    message_ids: Collection[int],
    networks: Collection[Network],
    criteria: dict[str, Any],
    cap_per_hour: int = DEFAULT_CAP,
    reminder_text: str = "",
    now: datetime,
    wave: Wave | None = None,
) -> Wave:
    """Add a wave to a campaign, or change one that has not ended: an open (or paused) wave keeps its opening
    time, and its pledges that the change leaves out are cancelled (`wave_change` says which, beforehand).
    Raises WaveError with the reason. Flushes."""
    if campaign.status is CampaignStatus.ENDED:
        raise WaveError(_("This campaign has ended: it takes no more waves."))
    if wave is not None and wave.status not in LIVE_STATES:
        raise WaveError(_("This wave is over: it can no longer be changed."))
    running = wave is not None and wave.status is not WaveStatus.SCHEDULED
    if running and wave is not None:
        opens_at = wave.opens_at  # it has opened: only what comes next can change
        if closes_at <= now:
            raise WaveError(_("An open wave must close later than now; to stop it at once, cancel it."))
    if closes_at <= opens_at:
        raise WaveError(_("The wave must close after it opens."))
    if not running and opens_at < now - PAST_GRACE:
        raise WaveError(_("This window starts in the past: choose a time to come."))
    if not 1 <= cap_per_hour <= MAX_CAP:
        raise WaveError(_("The cap must be between 1 and %(max)s messages per target per hour.", max=MAX_CAP))
    clash = overlapping(campaign, opens_at, closes_at, other_than=wave.id if wave else None)
    if clash is not None:
        raise WaveError(
            _("This window overlaps the wave “%(title)s”: a campaign runs one wave at a time.", title=clash.title)
        )
    usable = usable_message_ids(campaign, message_ids)
    if not usable:
        raise WaveError(_("Choose at least one message with an active variant."))
    chosen = [n.value for n in campaign.enabled_networks if n in set(networks)]
    if not chosen:
        raise WaveError(_("Choose at least one of the campaign's networks."))
    target_ids = matching_target_ids(campaign, criteria)
    if not target_ids:
        raise WaveError(_("No target of the campaign passes this filter."))
    if wave is None:
        wave = Wave(campaign_id=campaign.id, campaign=campaign)
        db.session.add(wave)
    elif running:
        apply_change(wave_change(wave, target_ids=target_ids, message_ids=usable, networks=chosen, closes_at=closes_at))
    wave.title = title.strip() or _("Wave")
    wave.opens_at, wave.closes_at = opens_at, closes_at
    wave.message_ids, wave.networks, wave.target_criteria = usable, chosen, criteria
    wave.cap_per_hour, wave.reminder_text = cap_per_hour, reminder_text.strip()
    db.session.flush()
    db.session.query(WaveTarget).filter(WaveTarget.wave_id == wave.id).delete(synchronize_session=False)
    db.session.add_all(WaveTarget(wave_id=wave.id, recipient_id=rid, position=i) for i, rid in enumerate(target_ids))
    db.session.flush()
    if running:
        schedule_releases(wave, now)  # pledges moved out of a shortened window get a time inside it
    return wave


def waves_of(campaign: Campaign) -> list[Wave]:
    return list(db.session.scalars(select(Wave).where(Wave.campaign_id == campaign.id).order_by(Wave.opens_at)))


def assigned_targets(targets: Sequence[int], seq: int, *, per_reminder: int = ASSIGNED_PER_REMINDER) -> list[int]:
    """The targets a reminder's link offers: consecutive turns around the wave's targets, so that
    reminder n starts where n-1 stopped and every target is assigned as often as any other (±1).
    """
    if not targets:
        return []
    count = min(per_reminder, len(targets))
    return [targets[(seq * count + j) % len(targets)] for j in range(count)]
