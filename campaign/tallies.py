"""Exact running counts of what supporters do, kept in step with `Action` rows in the same transactions.

Analytics read these instead of the actions themselves: a campaign's dashboard then reads a few
hundred hourly rows where it would scan a million actions. Every count moves in the transaction that
makes the fact it counts (an action recorded, its post delivered, its compose-link post confirmed,
a visit), and `rebuild` computes the same numbers from the facts: a test keeps the two equal.

`wave_id` 0 stands for "outside any wave" in `ActionTally` and `VisitTally`, and for "the whole
campaign" in the per-target and per-supporter tallies (which count a wave's actions twice: once in
the wave, once in the campaign).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import Date, ForeignKey, Index, String, case, delete, func, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column

from campaign.models import Action, ActionMode
from channels import Network
from database import increment_many, insert_missing, local_date_sql
from extensions import Model, db
from scheduler.models import Delivery, DeliveryState

CAMPAIGN_WIDE = 0


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def zone() -> str:
    """The organisation's clock (TIMEZONE): supporters' days are its calendar days, not UTC's."""
    return str(current_app.config["TIMEZONE"]) if has_app_context() else "UTC"


def local_day(moment: datetime) -> date:
    """The calendar day of a UTC moment on the organisation's clock."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(ZoneInfo(zone())).date()


class ActionTally(Model):
    """Actions and confirmed posts by campaign, wave, hour, network, mode and message variant."""

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    network: Mapped[Network] = mapped_column(primary_key=True)
    mode: Mapped[ActionMode] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    actions: Mapped[int] = mapped_column(default=0)
    confirmed: Mapped[int] = mapped_column(default=0)  # posted through the API, or found on a public timeline


class VisitTally(Model):
    """Supporter page visits (one per browser and campaign), targets shown, and clicks refused as abuse
    (a send link replayed without its visit, or a client over the click throttle), by hour."""

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)
    shown: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0, server_default="0")


class TargetTally(Model):
    """Messages to one target, in a campaign (wave 0) or in one wave."""

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"), primary_key=True, index=True)
    actions: Mapped[int] = mapped_column(default=0)
    confirmed: Mapped[int] = mapped_column(default=0)


class SupporterTally(Model):
    """One supporter (an anonymous browser id) in a campaign (wave 0) or a wave: when they first and last
    acted, on how many days, how many times. Counting rows counts people, not clicks.
    """

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    visitor_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_at: Mapped[datetime]
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(default=1)
    actions: Mapped[int] = mapped_column(default=1)


class SupporterDay(Model):
    """Supporters by the day they first wrote, in a campaign (wave 0) or a wave: how many, how many of a
    wave's were new to the campaign too, and how many of a campaign's came back on another day later.
    Kept with `SupporterTally` so a dashboard reads a row a day, not a row a supporter.
    """

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    supporters: Mapped[int] = mapped_column(default=0)
    first_timers: Mapped[int] = mapped_column(default=0)  # a wave's supporters whose first message it holds
    came_back: Mapped[int] = mapped_column(default=0)  # wrote again on a later day ("returning" is an SQL word)


class ReachTally(Model):
    """An account that posted for a campaign (wave 0) or a wave: reach sums their followers, each once."""

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    wave_id: Mapped[int] = mapped_column(primary_key=True, default=0)
    account_id: Mapped[int] = mapped_column(ForeignKey("social_account.id", ondelete="CASCADE"), primary_key=True)


class PostMetric(Model):
    """A post we know (delivered through a connected account) and its latest engagement counts."""

    __table_args__ = (Index("ix_post_metric_campaign_wave", "campaign_id", "wave_id"),)

    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    wave_id: Mapped[int] = mapped_column(default=0)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    network: Mapped[Network]
    posted_at: Mapped[datetime]
    likes: Mapped[int] = mapped_column(default=0)
    reposts: Mapped[int] = mapped_column(default=0)
    replies: Mapped[int] = mapped_column(default=0)
    quotes: Mapped[int] = mapped_column(default=0)
    fetched_at: Mapped[datetime | None]
    next_fetch_at: Mapped[datetime] = mapped_column(index=True)
    error: Mapped[str] = mapped_column(String(300), default="")  # why the last refresh failed (a code the page words)


def _action_keys(action: Action) -> dict[str, Any]:
    """The `ActionTally` row an action counts in."""
    return {
        "campaign_id": action.campaign_id,
        "wave_id": action.wave_id or 0,
        "hour": hour_of(action.created_at),
        "network": action.network,
        "mode": action.mode,
        "variant_id": action.variant_id or 0,
    }


def _waves(wave_id: int | None) -> list[int]:
    return [CAMPAIGN_WIDE, wave_id] if wave_id else [CAMPAIGN_WIDE]


@dataclass(frozen=True)
class Confirmed:
    """An action whose post is confirmed: delivered through `account_id` as `delivery_id`, or found."""

    action: Action
    account_id: int | None = None
    delivery_id: int | None = None
    now: datetime | None = None


def count_confirmed(
    action: Action, *, account_id: int | None = None, delivery_id: int | None = None, now: datetime | None = None
) -> None:
    """Count an action's post as confirmed: delivered (with its account and a row for its engagement) or
    found on a public timeline.
    """
    count_confirmed_many([Confirmed(action, account_id, delivery_id, now)])


def count_confirmed_many(confirmed: list[Confirmed]) -> None:
    """Count these posts as confirmed, one `executemany` a tally for the lot (a batch of deliveries)."""
    actions: Counter[tuple[Any, ...]] = Counter()
    targets: Counter[tuple[int, int, int]] = Counter()
    reach: set[tuple[int, int, int]] = set()
    metrics: dict[int, dict[str, Any]] = {}
    for item in confirmed:
        action = item.action
        actions[tuple(_action_keys(action).values())] += 1
        for wave_id in _waves(action.wave_id):
            targets[(action.campaign_id, wave_id, action.recipient_id)] += 1
            if item.account_id is not None:
                reach.add((action.campaign_id, wave_id, item.account_id))
        if item.delivery_id is not None:
            posted_at = item.now or action.created_at
            metrics[item.delivery_id] = {
                "delivery_id": item.delivery_id,
                "campaign_id": action.campaign_id,
                "wave_id": action.wave_id or 0,
                "recipient_id": action.recipient_id,
                "network": action.network,
                "posted_at": posted_at,
                "next_fetch_at": posted_at,
            }
    names = ["campaign_id", "wave_id", "hour", "network", "mode", "variant_id"]
    increment_many(
        db.session,
        ActionTally,
        names,
        [dict(zip(names, key, strict=True)) | {"actions": 0, "confirmed": n} for key, n in actions.items()],
        ["confirmed"],
    )
    increment_many(
        db.session,
        TargetTally,
        ["campaign_id", "wave_id", "recipient_id"],
        [
            {"campaign_id": c, "wave_id": w, "recipient_id": r, "actions": 0, "confirmed": n}
            for (c, w, r), n in targets.items()
        ],
        ["confirmed"],
    )
    insert_missing(
        db.session,
        ReachTally,
        ["campaign_id", "wave_id", "account_id"],
        [{"campaign_id": c, "wave_id": w, "account_id": a} for c, w, a in sorted(reach)],
    )
    insert_missing(db.session, PostMetric, ["delivery_id"], list(metrics.values()))


def on_deliveries_posted(deliveries: list[Delivery], now: datetime) -> None:
    """The outbox's word that a batch of posts or pledges went out: count their actions' posts as confirmed
    (the actions read in one query, the tallies written in one statement each)."""
    by_id = {delivery.id: delivery for delivery in deliveries}
    actions = db.session.scalars(select(Action).where(Action.delivery_id.in_(list(by_id))).order_by(Action.id))
    confirmed: dict[int, Confirmed] = {}
    for action in actions:
        delivery_id = action.delivery_id
        if delivery_id is not None and delivery_id not in confirmed:
            confirmed[delivery_id] = Confirmed(action, by_id[delivery_id].account_id, delivery_id, now)
    count_confirmed_many(list(confirmed.values()))


def rebuild(campaign_id: int) -> None:
    """Recompute every tally of a campaign from its actions and deliveries (after a bulk load, or to check).

    Visits are kept nowhere else, so `VisitTally` and the engagement rows are left as they are. Flushes.
    """
    for model in (ActionTally, TargetTally, SupporterTally, SupporterDay, ReachTally):
        db.session.execute(delete(model).where(model.campaign_id == campaign_id))
    # Only what the fold has counted: the actions above the mark join the tallies at the next fold.
    upto = folded_upto_locked()
    posted = (Delivery.state == DeliveryState.POSTED) & (Action.mode != ActionMode.LINK)
    confirmed = func.sum(case((posted | Action.confirmed_at.is_not(None), 1), else_=0))
    base = (
        select()
        .select_from(Action)
        .outerjoin(Delivery, Delivery.id == Action.delivery_id)
        .where(Action.campaign_id == campaign_id, Action.id <= upto)
    )
    wave, hour, day = func.coalesce(Action.wave_id, 0), _utc_hour(), _local_day()
    variant = func.coalesce(Action.variant_id, 0)
    rows = db.session.execute(
        base.add_columns(wave, hour, Action.network, Action.mode, variant, func.count(), confirmed).group_by(
            wave, hour, Action.network, Action.mode, variant
        )
    ).all()
    _insert(
        ActionTally,
        [
            {"campaign_id": campaign_id, "wave_id": w, "hour": hour_of(_aware(h)), "network": n, "mode": m}
            | {"variant_id": v, "actions": a, "confirmed": int(c or 0)}
            for w, h, n, m, v, a, c in rows
        ],
    )
    # Once for the whole campaign (wave 0), once per wave.
    for scope, by in ((base, []), (base.where(Action.wave_id.is_not(None)), [Action.wave_id])):
        fill = (lambda row: (CAMPAIGN_WIDE, *row)) if not by else (lambda row: tuple(row))
        targets = db.session.execute(
            scope.add_columns(*by, Action.recipient_id, func.count(), confirmed).group_by(*by, Action.recipient_id)
        ).all()
        _insert(
            TargetTally,
            [
                {"campaign_id": campaign_id, "wave_id": w, "recipient_id": r, "actions": a, "confirmed": int(c or 0)}
                for w, r, a, c in map(fill, targets)
            ],
        )
        people = db.session.execute(
            scope.add_columns(
                *by,
                Action.visitor_id,
                func.min(Action.created_at),
                func.max(Action.created_at),
                func.count(func.distinct(day)),
                func.count(),
            ).group_by(*by, Action.visitor_id)
        ).all()
        _insert(
            SupporterTally,
            [
                {"campaign_id": campaign_id, "wave_id": w, "visitor_id": v, "first_at": _aware(first)}
                | {"first_day": local_day(_aware(first)), "last_day": local_day(_aware(last)), "days": d, "actions": a}
                for w, v, first, last, d, a in map(fill, people)
            ],
        )
        accounts = db.session.execute(
            scope.where(posted, Delivery.account_id.is_not(None)).add_columns(*by, Delivery.account_id).distinct()
        ).all()
        _insert(
            ReachTally,
            [{"campaign_id": campaign_id, "wave_id": w, "account_id": a} for w, a in map(fill, accounts)],
        )
    db.session.flush()
    _rebuild_days(campaign_id)
    db.session.flush()


def _rebuild_days(campaign_id: int) -> None:
    """`SupporterDay` from the rebuilt `SupporterTally` rows (a wave's first timers: their first message to
    the campaign is their first in the wave)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # The rows were all written by this transaction: without fresh statistics the planner joins them
        # as if the table were empty (minutes, not a second, at 100,000 supporters).
        db.session.execute(text("ANALYZE supporter_tally"))
    wide = SupporterTally.__table__.alias("campaign_wide")
    first_timer = func.count().filter(wide.c.first_at >= SupporterTally.first_at)
    rows = db.session.execute(
        select(
            SupporterTally.wave_id,
            SupporterTally.first_day,
            func.count(),
            first_timer,
            func.count().filter(SupporterTally.days > 1),
        )
        .join(
            wide,
            (wide.c.campaign_id == SupporterTally.campaign_id)
            & (wide.c.visitor_id == SupporterTally.visitor_id)
            & (wide.c.wave_id == CAMPAIGN_WIDE),
        )
        .where(SupporterTally.campaign_id == campaign_id)
        .group_by(SupporterTally.wave_id, SupporterTally.first_day)
    ).all()
    _insert(
        SupporterDay,
        [
            {"campaign_id": campaign_id, "wave_id": w, "day": d, "supporters": n, "first_timers": f, "came_back": r}
            for w, d, n, f, r in rows
        ],
    )


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        db.session.execute(insert(model), rows)


def _utc(column: Any) -> Any:
    """A timestamp column as UTC wall time (PostgreSQL's session zone may be another; SQLite stores UTC)."""
    return column if db.session.get_bind().dialect.name == "sqlite" else func.timezone("UTC", column)


def _utc_hour() -> Any:
    if db.session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d %H:00:00", Action.created_at)
    return func.date_trunc("hour", _utc(Action.created_at))


def _local_day() -> Any:
    return local_date_sql(Action.created_at, zone(), db.session.get_bind().dialect.name)


def _aware(value: Any) -> datetime:
    """A datetime read back by an aggregate (SQLite gives text, PostgreSQL a datetime) as aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ACTIONS = "actions"  # the mark's name


class TallyMark(Model):
    """How far the fold has counted: every action with an id at or below `last_id` is in the tallies."""

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)
    folded_at: Mapped[datetime | None]


def folded_upto() -> int:
    """The mark: actions with a higher id are not counted yet."""
    return int(db.session.scalar(select(TallyMark.last_id).where(TallyMark.name == ACTIONS)) or 0)


def folded_upto_locked() -> int:
    """The mark, locked until the transaction ends (PostgreSQL), so that no fold moves it meanwhile."""
    query = select(TallyMark.last_id).where(TallyMark.name == ACTIONS)
    if db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return int(db.session.scalar(query) or 0)
