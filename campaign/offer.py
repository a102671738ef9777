"""What the supporter page reads of a campaign's open wave: its targets, the per-target hourly cap, and
which wave an action counts for. Waves themselves (their life, reminders, pledges) live in `waves/`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from campaign.appended import recent_counts
from campaign.models import Campaign, Wave, WaveStatus, WaveTarget
from campaign.snapshot import PageWave, Snapshot
from extensions import db


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


def wave_target_ids(wave: Wave) -> list[int]:
    return list(
        db.session.scalars(
            select(WaveTarget.recipient_id).where(WaveTarget.wave_id == wave.id).order_by(WaveTarget.position)
        )
    )


def capped(wave: Wave, recipient_ids: Collection[int], now: datetime) -> set[int]:
    """Which of these targets reached the wave's cap this hour."""
    return {rid for rid, count in recent_counts(recipient_ids, now).items() if count >= wave.cap_per_hour}


@dataclass(frozen=True)
class WaveOffer:
    """What the supporter page offers while a wave is open: its targets, those at their cap, and the
    first assigned target (from a reminder's link) still to write to.
    """

    wave: Wave | PageWave
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


def snapshot_offer(
    campaign: Snapshot,
    now: datetime,
    *,
    seen: Collection[int],
    assigned: Sequence[int],
    capped: Callable[[PageWave, datetime], Collection[int]],
) -> WaveOffer | None:
    """`wave_offer` from a page snapshot, with the caps read through `capped` (a cache of the tally)."""
    wave = campaign.open_wave(now)
    if wave is None:
        return None
    full = set(capped(wave, now))
    preferred = next((rid for rid in assigned if rid in wave.members and rid not in full and rid not in seen), None)
    return WaveOffer(wave, list(wave.targets), full, preferred)
