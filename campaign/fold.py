"""Tallies folded in batches from appended rows, so that no two clicks wait on the same row.

A click appends one `Action`, a page view one `VisitEvent`; nothing else. Every second the `tallies`
job folds what was appended since its high-water mark (`TallyMark`) into the tallies, the targets'
counts and rotation (`CampaignTarget`), and the per-minute counts the hourly cap reads (`TargetMinute`),
in one transaction that also moves the mark. It is exact and safe to repeat or to run in two processes:

- one folder at a time: the mark row is locked (`FOR UPDATE` on PostgreSQL; SQLite has one writer);
- only settled ids: on PostgreSQL an id is taken from a sequence before its transaction commits, so a
  lower id may commit after a higher one. `settled_max_id` waits for the transactions writing to
  `action` to end (a SHARE lock, held for one `SELECT`), and the batch stops at the highest id it saw;
- the mark moves in the transaction that adds the counts: a fold that fails adds nothing.

Visit events (`campaign.appended`) are a queue: folded and deleted in the same transaction.
`tallies.rebuild` counts only actions at or below the mark, so the two always agree.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    String,
    Table,
    bindparam,
    column,
    delete,
    func,
    select,
    text,
    update,
    values,
)

from campaign.appended import MINUTES_KEPT, TargetMinute, VisitEvent
from campaign.models import Action, CampaignTarget
from campaign.tallies import (
    ACTIONS,
    CAMPAIGN_WIDE,
    ActionTally,
    SupporterDay,
    SupporterTally,
    TallyMark,
    TargetTally,
    VisitTally,
    hour_of,
    local_day,
)
from database import dialect_insert, increment_many, utcnow
from extensions import db

logger = logging.getLogger(__name__)
BATCH = 5000


WAITING_COUNTED = 10_000  # the dashboards count waiting actions up to this many, then say "more than"


@dataclass(frozen=True)
class Freshness:
    """How fresh the folded figures are, as the dashboards say it."""

    seconds: int | None  # since the last fold ended; None when none ever ran
    waiting: int  # actions made and not counted yet, at most WAITING_COUNTED

    @property
    def late(self) -> bool:
        """The job has not run for a while: more than a few of its periods."""
        return self.seconds is None or self.seconds > LATE_AFTER


LATE_AFTER = 30  # seconds


def freshness(now: datetime) -> Freshness:
    """How long since the figures were last folded, and how many actions wait for the next fold."""
    mark = db.session.execute(select(TallyMark.last_id, TallyMark.folded_at).where(TallyMark.name == ACTIONS)).first()
    last_id, folded_at = (mark.last_id, mark.folded_at) if mark else (0, None)
    waiting = select(Action.id).where(Action.id > last_id).limit(WAITING_COUNTED).subquery()
    count = int(db.session.scalar(select(func.count()).select_from(waiting)) or 0)
    seconds = None if folded_at is None else max(0, int((now - folded_at).total_seconds()))
    return Freshness(seconds, count)


def settled_max_id() -> int:
    """The highest action id below which every transaction has ended. Ends the session's transaction."""
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        # SHARE waits for every transaction holding ROW EXCLUSIVE (an insert under way) and keeps new
        # ones out for the one SELECT: after it, no id at or below the maximum can still appear.
        db.session.execute(text("LOCK TABLE action IN SHARE MODE"))
    highest = int(db.session.scalar(select(func.max(Action.id))) or 0)
    db.session.commit()
    return highest


def fold_tallies(now: datetime | None = None, *, batch: int = BATCH) -> int:
    """The job: fold every settled action and visit event into the tallies; returns how many actions."""
    now = now or utcnow()
    upper = settled_max_id()
    total = 0
    while True:
        folded = _fold_batch(upper, now, batch)
        total += folded
        if folded < batch:
            break
    _fold_visits(now, batch)
    db.session.execute(delete(TargetMinute).where(TargetMinute.minute < now - MINUTES_KEPT))
    db.session.commit()
    return total


def _lock_mark() -> TallyMark:
    query = select(TallyMark).where(TallyMark.name == ACTIONS)
    if db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    mark = db.session.scalars(query).first()
    if mark is None:
        db.session.execute(
            dialect_insert(db.session, TallyMark).values(name=ACTIONS, last_id=0).on_conflict_do_nothing()
        )
        mark = db.session.scalars(query).one()
    return mark


@dataclass
class _Person:
    """A supporter's row in a campaign (wave 0) or a wave, as the fold moves it."""

    first_at: datetime
    first_day: date
    last_day: date
    days: int
    actions: int
    is_new: bool = False


@dataclass
class _Batch:
    actions: dict[tuple[Any, ...], int] = field(default_factory=lambda: defaultdict(int))
    targets: dict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))
    minutes: dict[tuple[int, datetime], int] = field(default_factory=lambda: defaultdict(int))
    rotation: dict[tuple[int, int], tuple[int, int | None, datetime]] = field(default_factory=dict)
    days: dict[tuple[int, int, date], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))


def _fold_batch(upper: int, now: datetime, batch: int) -> int:
    mark = _lock_mark()
    rows = db.session.execute(
        select(
            Action.id,
            Action.campaign_id,
            Action.wave_id,
            Action.recipient_id,
            Action.variant_id,
            Action.network,
            Action.mode,
            Action.visitor_id,
            Action.created_at,
        )
        .where(Action.id > mark.last_id, Action.id <= upper)
        .order_by(Action.id)
        .limit(batch)
    ).all()
    if not rows:
        mark.folded_at = now  # up to date as of now, though nothing was new
        db.session.commit()
        return 0
    counts = _Batch()
    people = _load_people(rows)
    for row in rows:
        wave = row.wave_id or 0
        counts.actions[
            (row.campaign_id, wave, hour_of(row.created_at), row.network, row.mode, row.variant_id or 0)
        ] += 1
        counts.minutes[(row.recipient_id, row.created_at.replace(second=0, microsecond=0))] += 1
        count, _variant, _at = counts.rotation.get((row.campaign_id, row.recipient_id), (0, None, row.created_at))
        counts.rotation[(row.campaign_id, row.recipient_id)] = (count + 1, row.variant_id, row.created_at)
        day = local_day(row.created_at)
        new_to_campaign = False
        for wave_key in [CAMPAIGN_WIDE, row.wave_id] if row.wave_id else [CAMPAIGN_WIDE]:
            counts.targets[(row.campaign_id, wave_key, row.recipient_id)] += 1
            key = (row.campaign_id, wave_key, row.visitor_id)
            person = people.get(key)
            if person is None:
                people[key] = _Person(row.created_at, day, day, 1, 1, is_new=True)
                new_to_campaign = new_to_campaign or wave_key == CAMPAIGN_WIDE
                tally = counts.days[(row.campaign_id, wave_key, day)]
                tally[0] += 1
                tally[1] += int(new_to_campaign)
                continue
            person.actions += 1
            if person.last_day < day:
                if person.days == 1:  # their second day of writing: they came back
                    counts.days[(row.campaign_id, wave_key, person.first_day)][2] += 1
                person.days += 1
                person.last_day = day
    _write(counts, people)
    mark.last_id = rows[-1].id
    mark.folded_at = now
    db.session.commit()
    return len(rows)


def _load_people(rows: Sequence[Any]) -> dict[tuple[int, int, str], _Person]:
    """The supporter rows this batch moves, read in one query per campaign and wave."""
    wanted: dict[tuple[int, int], set[str]] = defaultdict(set)
    for row in rows:
        wanted[(row.campaign_id, CAMPAIGN_WIDE)].add(row.visitor_id)
        if row.wave_id:
            wanted[(row.campaign_id, row.wave_id)].add(row.visitor_id)
    tally = SupporterTally
    columns = (tally.visitor_id, tally.first_at, tally.first_day, tally.last_day, tally.days, tally.actions)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    people = {}
    for (campaign_id, wave_id), visitors in wanted.items():
        query = select(*columns).where(tally.campaign_id == campaign_id, tally.wave_id == wave_id)
        if postgres:
            # A join on a VALUES list: PostgreSQL matches it by index or hash whatever its statistics say,
            # where a long IN list over a table it has not analysed yet is a scan per value.
            listed = values(column("visitor_id", String), name="listed").data([(v,) for v in visitors])
            query = query.join(listed, listed.c.visitor_id == tally.visitor_id)
        else:
            query = query.where(tally.visitor_id.in_(list(visitors)))
        for found in db.session.execute(query):
            people[(campaign_id, wave_id, found.visitor_id)] = _Person(
                found.first_at, found.first_day, found.last_day, found.days, found.actions
            )
    return people


def _write(counts: _Batch, people: dict[tuple[int, int, str], _Person]) -> None:
    action_keys = ["campaign_id", "wave_id", "hour", "network", "mode", "variant_id"]
    increment_many(
        db.session,
        ActionTally,
        action_keys,
        [
            dict(zip(action_keys, key, strict=True)) | {"actions": n, "confirmed": 0}
            for key, n in counts.actions.items()
        ],
        ["actions"],
    )
    increment_many(
        db.session,
        TargetTally,
        ["campaign_id", "wave_id", "recipient_id"],
        [
            {"campaign_id": c, "wave_id": w, "recipient_id": r, "actions": n, "confirmed": 0}
            for (c, w, r), n in counts.targets.items()
        ],
        ["actions"],
    )
    increment_many(
        db.session,
        TargetMinute,
        ["recipient_id", "minute"],
        [{"recipient_id": r, "minute": m, "actions": n} for (r, m), n in counts.minutes.items()],
        ["actions"],
    )
    increment_many(
        db.session,
        SupporterDay,
        ["campaign_id", "wave_id", "day"],
        [
            {"campaign_id": c, "wave_id": w, "day": d, "supporters": s, "first_timers": f, "came_back": b}
            for (c, w, d), (s, f, b) in counts.days.items()
        ],
        ["supporters", "first_timers", "came_back"],
    )
    if people:
        statement = dialect_insert(db.session, SupporterTally)
        statement = statement.on_conflict_do_update(
            index_elements=["campaign_id", "wave_id", "visitor_id"],
            set_={name: statement.excluded[name] for name in ("first_at", "first_day", "last_day", "days", "actions")},
        )
        db.session.execute(
            statement,
            [
                {"campaign_id": c, "wave_id": w, "visitor_id": v}
                | {"first_at": p.first_at, "first_day": p.first_day, "last_day": p.last_day}
                | {"days": p.days, "actions": p.actions}
                for (c, w, v), p in people.items()
            ],
        )
    table = cast(Table, CampaignTarget.__table__)
    db.session.execute(
        update(table)
        .where(table.c.campaign_id == bindparam("c"), table.c.recipient_id == bindparam("r"))
        .values(
            action_count=table.c.action_count + bindparam("n"),
            last_variant_id=bindparam("v"),
            last_action_at=bindparam("at"),
        )
        .execution_options(pv_folding=True),
        [{"c": c, "r": r, "n": n, "v": v, "at": at} for (c, r), (n, v, at) in counts.rotation.items()],
    )


def _fold_visits(now: datetime, batch: int) -> None:
    _lock_mark()  # one folder at a time for the visit queue too
    while True:
        events = db.session.execute(
            select(
                VisitEvent.id,
                VisitEvent.campaign_id,
                VisitEvent.wave_id,
                VisitEvent.created_at,
                VisitEvent.visits,
                VisitEvent.shown,
                VisitEvent.refused,
            )
            .order_by(VisitEvent.id)
            .limit(batch)
        ).all()
        if not events:
            return
        sums: dict[tuple[int, int, datetime], list[int]] = defaultdict(lambda: [0, 0, 0])
        for event in events:
            total = sums[(event.campaign_id, event.wave_id, hour_of(event.created_at))]
            total[0] += event.visits
            total[1] += event.shown
            total[2] += event.refused
        increment_many(
            db.session,
            VisitTally,
            ["campaign_id", "wave_id", "hour"],
            [
                {"campaign_id": c, "wave_id": w, "hour": h, "visits": v, "shown": s, "refused": r}
                for (c, w, h), (v, s, r) in sums.items()
            ],
            ["visits", "shown", "refused"],
        )
        db.session.execute(delete(VisitEvent).where(VisitEvent.id.in_([event.id for event in events])))
        if len(events) < batch:
            return
