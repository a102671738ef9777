"""Changing a wave that is under way: what a change would do (said to the organiser first), then doing it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from campaign.labels import WAVE_CHANGED
from campaign.models import Campaign, Variant, Wave
from campaign.offer import wave_target_ids
from channels import Network
from extensions import db
from waves.models import Pledge, PledgeState, Reminder
from waves.targets import matching_target_ids, usable_message_ids


@dataclass(frozen=True)
class WaveChange:
    """What changing a running wave does, said to the organiser before it is done."""

    targets_added: int
    targets_removed: int
    cancelled: list[int]  # waiting pledges the wave leaves out (their target, message or network is gone)
    moved: list[int]  # waiting pledges planned after the new closing time: planned again inside the window
    reminders_sent: int  # their links now open the new targets

    @property
    def is_empty(self) -> bool:
        return not (self.targets_added or self.targets_removed or self.cancelled or self.moved)


def wave_change(
    wave: Wave,
    *,
    target_ids: Collection[int],
    message_ids: Collection[int],
    networks: Collection[str],
    closes_at: datetime,
) -> WaveChange:
    current = set(wave_target_ids(wave))
    wanted = set(target_ids)
    waiting = db.session.execute(
        select(Pledge.id, Pledge.recipient_id, Pledge.network, Variant.message_id, Pledge.release_at)
        .outerjoin(Variant, Variant.id == Pledge.variant_id)
        .where(Pledge.wave_id == wave.id, Pledge.state == PledgeState.PLEDGED)
    ).all()
    cancelled, moved = [], []
    for pledge_id, recipient_id, network, message_id, release_at in waiting:
        gone = recipient_id not in wanted or Network(network).value not in networks
        if gone or (message_id is not None and message_id not in message_ids):
            cancelled.append(pledge_id)
        elif release_at is not None and release_at >= closes_at:
            moved.append(pledge_id)
    sent = db.session.scalar(select(func.count()).select_from(Reminder).where(Reminder.wave_id == wave.id)) or 0
    return WaveChange(len(wanted - current), len(current - wanted), cancelled, moved, int(sent))


def preview_change(
    campaign: Campaign,
    wave: Wave,
    *,
    message_ids: Collection[int],
    networks: Collection[Network],
    criteria: dict[str, Any],
    closes_at: datetime,
) -> WaveChange:
    """What saving these values on a running wave would do (nothing is changed)."""
    return wave_change(
        wave,
        target_ids=matching_target_ids(campaign, criteria),
        message_ids=usable_message_ids(campaign, message_ids),
        networks=[n.value for n in networks],
        closes_at=closes_at,
    )


def apply_change(change: WaveChange) -> None:
    if change.cancelled:
        db.session.execute(
            update(Pledge)
            .where(Pledge.id.in_(change.cancelled), Pledge.state == PledgeState.PLEDGED)
            .values(state=PledgeState.CANCELLED, reason=WAVE_CHANGED)
            .execution_options(synchronize_session=False)
        )
    if change.moved:
        db.session.execute(
            update(Pledge)
            .where(Pledge.id.in_(change.moved), Pledge.state == PledgeState.PLEDGED)
            .values(release_at=None)
            .execution_options(synchronize_session=False)
        )
