"""What the live wave page shows: reminders, actions, pledges released and posts confirmed, per target.

A handful of grouped queries, whatever the wave's size (100,000 reminders are counted, not loaded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select

from campaign.models import Action, Wave, WaveTarget
from extensions import db
from i18n import to_local
from recipients.models import Recipient
from scheduler.models import Delivery, DeliveryState
from waves.jobs import REMINDER
from waves.models import Pledge, PledgeState, Reminder


@dataclass(frozen=True)
class TargetProgress:
    recipient_id: int
    name: str
    group_name: str
    actions: int = 0
    pledged: int = 0
    released: int = 0
    confirmed: int = 0


@dataclass(frozen=True)
class WaveProgress:
    status: str
    reminders: int
    reminders_sent: int
    reminders_failed: int
    reminders_waiting: int
    reminders_opened: int
    actions: int
    pledged: int
    released: int
    confirmed: int
    targets: list[TargetProgress]
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _reminder_states(wave: Wave) -> dict[DeliveryState, int]:
    rows = db.session.execute(
        select(Delivery.state, func.count())
        .join(Reminder, and_(Delivery.kind == REMINDER, Delivery.ref_id == Reminder.id))
        .where(Reminder.wave_id == wave.id)
        .group_by(Delivery.state)
    ).tuples()
    return {state: int(count) for state, count in rows}


def wave_progress(wave: Wave, now: datetime) -> WaveProgress:
    states = _reminder_states(wave)
    opened = db.session.scalar(select(func.count()).where(Reminder.wave_id == wave.id, Reminder.opened_at.is_not(None)))
    confirmed_row = or_(Action.confirmed_at.is_not(None), Delivery.state == DeliveryState.POSTED)
    actions = {
        rid: (int(total), int(confirmed))
        for rid, total, confirmed in db.session.execute(
            select(Action.recipient_id, func.count(), func.count().filter(confirmed_row))
            .outerjoin(Delivery, Delivery.id == Action.delivery_id)
            .where(Action.wave_id == wave.id)
            .group_by(Action.recipient_id)
        ).tuples()
    }
    pledges = {
        rid: (int(total), int(released))
        for rid, total, released in db.session.execute(
            select(
                Pledge.recipient_id,
                func.count().filter(Pledge.state != PledgeState.CANCELLED),
                func.count().filter(Pledge.state == PledgeState.RELEASED),
            )
            .where(Pledge.wave_id == wave.id)
            .group_by(Pledge.recipient_id)
        ).tuples()
    }
    targets = [
        TargetProgress(
            recipient_id=rid,
            name=f"{first} {last}".strip(),
            group_name=group or "",
            actions=actions.get(rid, (0, 0))[0],
            confirmed=actions.get(rid, (0, 0))[1],
            pledged=pledges.get(rid, (0, 0))[0],
            released=pledges.get(rid, (0, 0))[1],
        )
        for rid, first, last, group in db.session.execute(
            select(Recipient.id, Recipient.first_name, Recipient.last_name, Recipient.group_name)
            .join(WaveTarget, WaveTarget.recipient_id == Recipient.id)
            .where(WaveTarget.wave_id == wave.id)
            .order_by(WaveTarget.position)
        ).tuples()
    ]
    waiting = states.get(DeliveryState.QUEUED, 0) + states.get(DeliveryState.SENDING, 0)
    return WaveProgress(
        status=wave.status.value,
        reminders=sum(states.values()),
        reminders_sent=states.get(DeliveryState.POSTED, 0),
        reminders_failed=states.get(DeliveryState.FAILED, 0) + states.get(DeliveryState.CANCELLED, 0),
        reminders_waiting=waiting,
        reminders_opened=int(opened or 0),
        actions=sum(t.actions for t in targets),
        pledged=sum(t.pledged for t in targets),
        released=sum(t.released for t in targets),
        confirmed=sum(t.confirmed for t in targets),
        targets=targets,
        updated_at=to_local(now, current_app.config["TIMEZONE"]).isoformat(timespec="seconds"),  # its clock
    )
