"""Waves: scheduling and validating windows, their life (open, pause, resume, cancel, close), and what the
supporter page offers while one is open (its targets under the per-target cap, its messages, its networks).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from campaign.labels import WAVE_CANCELLED, WAVE_CLOSED
from campaign.models import (
    Action,
    Campaign,
    CampaignStatus,
    CampaignTarget,
    Message,
    Variant,
    Wave,
    WaveStatus,
    WaveTarget,
)
from channels import Network
from database import changed
from extensions import db
from recipients.models import Recipient, TargetRole
from recipients.services import TargetFilter, select_targets

logger = logging.getLogger(__name__)
DEFAULT_CAP = 30  # messages per target per hour, across all campaigns
MAX_CAP = 1000
CAP_WINDOW = timedelta(hours=1)
PAST_GRACE = timedelta(minutes=1)  # a window typed "now" is not in the past
ASSIGNED_PER_REMINDER = 3  # targets a personal link offers, in turn
LIVE_STATES = (WaveStatus.SCHEDULED, WaveStatus.OPEN, WaveStatus.PAUSED)


class WaveError(ValueError):
    """A wave that cannot be scheduled or moved as asked; the message says why, for the organiser."""


def wave_criteria(
    roles: Collection[TargetRole] = (), groups: Collection[str] = (), departments: Collection[str] = ()
) -> dict[str, Any]:
    """A wave's filter over its campaign's targets, as stored (a TargetFilter's criteria)."""
    chosen = TargetFilter(roles=tuple(roles), groups=tuple(groups), departments=tuple(departments))
    return {key: value for key, value in chosen.criteria().items() if key != "activity"}


def campaign_values(campaign: Campaign, column: str) -> list[str]:
    """The values of a target column among the campaign's targets (a wave's filter offers these)."""
    attribute = getattr(Recipient, column)
    values = db.session.scalars(
        select(attribute)
        .join(CampaignTarget, CampaignTarget.recipient_id == Recipient.id)
        .where(CampaignTarget.campaign_id == campaign.id)
        .distinct()
        .order_by(attribute)
    )
    return [str(value) for value in values if value]


def matching_target_ids(campaign: Campaign, criteria: dict[str, Any]) -> list[int]:
    """The campaign's targets that pass the wave's filter, in a stable order (the reminders' assignment order)."""
    matching = select_targets(campaign.organisation_id, TargetFilter.from_criteria(criteria)).with_only_columns(
        Recipient.id
    )
    return list(
        db.session.scalars(
            select(CampaignTarget.recipient_id)
            .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id.in_(matching))
            .order_by(CampaignTarget.recipient_id)
        )
    )


def usable_message_ids(campaign: Campaign, message_ids: Collection[int]) -> list[int]:
    """The chosen messages that belong to the campaign and have an active variant."""
    return list(
        db.session.scalars(
            select(Message.id)
            .where(Message.campaign_id == campaign.id, Message.id.in_(list(message_ids)))
            .where(select(Variant.id).where(Variant.message_id == Message.id, Variant.is_active.is_(True)).exists())
            .order_by(Message.position, Message.id)
        )
    )


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
        from campaign.wave_changes import apply_change, wave_change

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
        from campaign.pledges import schedule_releases

        schedule_releases(wave, now)  # pledges moved out of a shortened window get a time inside it
    return wave


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
    from campaign.wave_jobs import wind_down

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
    from campaign.wave_jobs import wind_down

    wind_down(wave, WAVE_CLOSED, now)
    return True


def open_wave(campaign: Campaign, now: datetime) -> Wave | None:
    """The campaign's wave that is open now (windows never overlap, so at most one)."""
    return db.session.scalars(
        select(Wave).where(
            Wave.campaign_id == campaign.id,
            Wave.status == WaveStatus.OPEN,
            Wave.opens_at <= now,
            Wave.closes_at > now,
        )
    ).first()


def next_wave(campaign: Campaign, now: datetime) -> Wave | None:
    """The campaign's next scheduled wave (pledges and opt-ins are taken for it)."""
    return db.session.scalars(
        select(Wave)
        .where(Wave.campaign_id == campaign.id, Wave.status == WaveStatus.SCHEDULED, Wave.closes_at > now)
        .order_by(Wave.opens_at)
    ).first()


def waves_of(campaign: Campaign) -> list[Wave]:
    return list(db.session.scalars(select(Wave).where(Wave.campaign_id == campaign.id).order_by(Wave.opens_at)))


def wave_target_ids(wave: Wave) -> list[int]:
    return list(
        db.session.scalars(
            select(WaveTarget.recipient_id).where(WaveTarget.wave_id == wave.id).order_by(WaveTarget.position)
        )
    )


def recent_counts(recipient_ids: Collection[int], now: datetime) -> dict[int, int]:
    """Messages each target received in the last hour, across all campaigns (the cap's measure)."""
    if not recipient_ids:
        return {}
    rows = db.session.execute(
        select(Action.recipient_id, func.count())
        .where(Action.recipient_id.in_(list(recipient_ids)), Action.created_at > now - CAP_WINDOW)
        .group_by(Action.recipient_id)
    ).tuples()
    return {recipient_id: int(count) for recipient_id, count in rows}


def capped(wave: Wave, recipient_ids: Collection[int], now: datetime) -> set[int]:
    """Which of these targets reached the wave's cap this hour."""
    return {rid for rid, count in recent_counts(recipient_ids, now).items() if count >= wave.cap_per_hour}


def assigned_targets(targets: Sequence[int], seq: int, *, per_reminder: int = ASSIGNED_PER_REMINDER) -> list[int]:
    """The targets a reminder's link offers: consecutive turns around the wave's targets, so that
    reminder n starts where n-1 stopped and every target is assigned as often as any other (±1).
    """
    if not targets:
        return []
    count = min(per_reminder, len(targets))
    return [targets[(seq * count + j) % len(targets)] for j in range(count)]


def to_utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time typed in the organisers' zone, as UTC."""
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def to_local(moment: datetime, zone: str) -> datetime:
    """A UTC moment (naive means UTC) on the organisers' wall clock, naive (for a datetime-local field)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


@dataclass(frozen=True)
class WaveOffer:
    """What the supporter page offers while a wave is open: its targets, those at their cap, and the
    first assigned target (from a reminder's link) still to write to.
    """

    wave: Wave
    targets: list[int]
    capped: set[int]
    preferred: int | None

    @property
    def open_targets(self) -> set[int]:
        return set(self.targets) - self.capped


def wave_offer(
    campaign: Campaign, now: datetime, *, seen: Collection[int], assigned: Sequence[int]
) -> WaveOffer | None:
    """The open wave's offer for this visit; None when no wave is open (the whole campaign is offered)."""
    wave = open_wave(campaign, now)
    if wave is None:
        return None
    targets = wave_target_ids(wave)
    full = capped(wave, targets, now)
    members = set(targets)
    preferred = next((rid for rid in assigned if rid in members and rid not in full and rid not in seen), None)
    return WaveOffer(wave, targets, full, preferred)


def wave_for_action(campaign: Campaign, recipient_id: int, now: datetime) -> int | None:
    """The open wave an action to this target counts for, if any."""
    wave = open_wave(campaign, now)
    if wave is None or db.session.get(WaveTarget, (wave.id, recipient_id)) is None:
        return None
    return wave.id
