"""A campaign's or a wave's figures: the funnel, actions by network, variant and time, supporters, reach,
engagement and answers. Read from the campaign's tallies (exact, kept with the facts), never by
scanning actions, so a page stays fast on a campaign of a million actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from analytics.models import PostReply
from campaign.models import ActionMode, Message, Variant
from campaign.tallies import ActionTally, PostMetric, ReachTally, SupporterDay, VisitTally
from channels import Network
from extensions import db
from recipients.models import Recipient
from supporters.models import SocialAccount


@dataclass(frozen=True)
class Scope:
    """What a dashboard is about: a campaign, or one of its waves; optionally a range of days on the
    organisation's clock (TIMEZONE), as every day and hour it shows."""

    campaign_id: int
    wave_id: int | None = None
    start: date | None = None  # first day included
    end: date | None = None  # last day included
    zone: str = "UTC"

    @property
    def wave_key(self) -> int:
        return self.wave_id or 0

    @property
    def has_range(self) -> bool:
        return self.start is not None or self.end is not None

    def hours(self, column: Any) -> list[Any]:
        """Conditions on an hourly tally's `hour` for the range."""
        conditions = []
        if self.start is not None:
            conditions.append(column >= _midnight(self.start, self.zone))
        if self.end is not None:
            conditions.append(column < _midnight(self.end + timedelta(days=1), self.zone))
        return conditions

    def local(self, moment: datetime) -> datetime:
        """A UTC moment (an hourly tally's hour) on the organisation's clock."""
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return aware.astimezone(ZoneInfo(self.zone))


def _midnight(day: date, zone: str) -> datetime:
    """The first moment of a local day, in UTC (the tallies' clock)."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@dataclass(frozen=True)
class Funnel:
    visits: int  # browsers that opened the supporter page
    shown: int  # targets shown to them
    clicks: int  # send buttons pressed (a compose link opened, or a post through a connected account)
    posts: int  # compose links opened, and posts the network accepted
    confirmed: int  # posts we know exist: the network's answer, or found on the author's public timeline
    refused: int = 0  # clicks not counted as abuse: a send link replayed without its visit, or over the throttle


@dataclass(frozen=True)
class Count:
    """One row of a breakdown."""

    key: str
    label: str
    actions: int
    confirmed: int = 0


@dataclass(frozen=True)
class Supporters:
    total: int
    new: int  # campaign: acted on one day only; wave: first acted for the campaign in this wave
    returning: int  # campaign: acted on two days or more; wave: had acted for the campaign before it
    new_by_day: list[Count] = field(default_factory=list)


@dataclass(frozen=True)
class Reach:
    accounts: int  # accounts that posted, each counted once
    followers: int  # the sum of their follower counts, as the networks last reported them
    unknown: int  # accounts whose count the network has not given us yet


@dataclass(frozen=True)
class Engagement:
    posts: int  # posts we know (delivered through connected accounts)
    measured: int  # of which we have read counts at least once
    likes: int
    reposts: int
    replies: int
    quotes: int
    last_fetched_at: datetime | None
    problems: list[Count]  # why some could not be read lately, with how many


@dataclass(frozen=True)
class Answer:
    target: str
    network: Network
    text: str
    url: str
    replied_at: datetime | None


@dataclass(frozen=True)
class Figures:
    scope: Scope
    funnel: Funnel
    by_network: list[Count]
    by_mode: list[Count]
    by_variant: list[Count]
    by_day: list[Count]
    by_hour: list[Count]
    supporters: Supporters
    reach: Reach
    engagement: Engagement
    answers: list[Answer]

    @property
    def is_empty(self) -> bool:
        return self.funnel.visits == 0 and not any(c.actions for c in self.by_mode)


def _actions(scope: Scope) -> list[Any]:
    conditions: list[Any] = [ActionTally.campaign_id == scope.campaign_id, *scope.hours(ActionTally.hour)]
    if scope.wave_id is not None:
        conditions.append(ActionTally.wave_id == scope.wave_id)
    return conditions


def funnel(scope: Scope, modes: list[Count] | None = None) -> Funnel:
    visit_conditions: list[Any] = [VisitTally.campaign_id == scope.campaign_id, *scope.hours(VisitTally.hour)]
    if scope.wave_id is not None:
        visit_conditions.append(VisitTally.wave_id == scope.wave_id)
    visits, shown, refused = db.session.execute(
        select(
            func.coalesce(func.sum(VisitTally.visits), 0),
            func.coalesce(func.sum(VisitTally.shown), 0),
            func.coalesce(func.sum(VisitTally.refused), 0),
        ).where(*visit_conditions)
    ).one()
    by_mode = {row.key: row for row in (modes if modes is not None else by_mode_counts(scope))}
    link, api = by_mode.get(ActionMode.LINK.value), by_mode.get(ActionMode.API.value)
    clicks = sum(row.actions for row in (link, api) if row)
    return Funnel(
        visits=int(visits),
        shown=int(shown),
        clicks=clicks,
        posts=(link.actions if link else 0) + (api.confirmed if api else 0),
        confirmed=sum(row.confirmed for row in (link, api) if row),
        refused=int(refused),
    )


def _grouped(scope: Scope, column: Any) -> list[tuple[Any, int, int]]:
    rows = db.session.execute(
        select(column, func.sum(ActionTally.actions), func.sum(ActionTally.confirmed))
        .where(*_actions(scope))
        .group_by(column)
    ).all()
    return [(key, int(a or 0), int(c or 0)) for key, a, c in rows]


def by_mode_counts(scope: Scope) -> list[Count]:
    found = {ActionMode(k): (a, c) for k, a, c in _grouped(scope, ActionTally.mode)}
    return [Count(mode.value, mode.value, *found.get(mode, (0, 0))) for mode in ActionMode]


def by_network_counts(scope: Scope) -> list[Count]:
    found = {Network(k): (a, c) for k, a, c in _grouped(scope, ActionTally.network)}
    return [Count(network.value, network.label, *found.get(network, (0, 0))) for network in Network]


def by_variant_counts(scope: Scope) -> list[Count]:
    counts = {int(k): (a, c) for k, a, c in _grouped(scope, ActionTally.variant_id)}
    if not counts:
        return []
    names = {
        vid: (label, body)
        for vid, label, body in db.session.execute(
            select(Variant.id, Message.label, Variant.body)
            .join(Message, Message.id == Variant.message_id)
            .where(Variant.id.in_([k for k in counts if k]))
        ).all()
    }
    rows = []
    for vid, (actions, confirmed) in counts.items():
        label, body = names.get(vid, ("", ""))
        text = f"{label} · {_shorten(body)}" if label else "—"
        rows.append(Count(str(vid), text, actions, confirmed))
    return sorted(rows, key=lambda row: (-row.actions, row.key))


def _shorten(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def by_time(scope: Scope) -> tuple[list[Count], list[Count]]:
    """Actions by day (every day from the first to the last with data) and by hour of the day, both on the
    organisation's clock: hourly tallies move whole to their local hour."""
    rows = db.session.execute(
        select(ActionTally.hour, func.sum(ActionTally.actions), func.sum(ActionTally.confirmed))
        .where(*_actions(scope))
        .group_by(ActionTally.hour)
    ).all()
    days: dict[date, list[int]] = {}
    hours = [[0, 0] for _ in range(24)]
    for utc_hour, actions, confirmed in rows:
        hour = scope.local(utc_hour)
        sums = days.setdefault(hour.date(), [0, 0])
        sums[0] += int(actions or 0)
        sums[1] += int(confirmed or 0)
        hours[hour.hour][0] += int(actions or 0)
        hours[hour.hour][1] += int(confirmed or 0)
    by_day = []
    if days:
        first, last = min(days), max(days)
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            actions, confirmed = days.get(day, [0, 0])
            by_day.append(Count(day.isoformat(), day.isoformat(), actions, confirmed))
    by_hour = [Count(str(h), f"{h:02d}:00", a, c) for h, (a, c) in enumerate(hours)] if rows else []
    return by_day, by_hour


def supporters(scope: Scope) -> Supporters:
    """Supporters of the whole campaign or wave (the day range does not apply: people are counted once)."""
    days = db.session.execute(
        select(SupporterDay.day, SupporterDay.supporters, SupporterDay.first_timers, SupporterDay.came_back)
        .where(SupporterDay.campaign_id == scope.campaign_id, SupporterDay.wave_id == scope.wave_key)
        .order_by(SupporterDay.day)
    ).all()
    total = sum(row.supporters for row in days)
    if scope.wave_id is None:
        returning = sum(row.came_back for row in days)
        new = total - returning
    else:
        new = sum(row.first_timers for row in days)
        returning = total - new
    return Supporters(
        total=total,
        new=new,
        returning=returning,
        new_by_day=[Count(row.day.isoformat(), row.day.isoformat(), row.supporters) for row in days if row.supporters],
    )


def reach(scope: Scope) -> Reach:
    accounts, followers, unknown = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(SocialAccount.followers), 0),
            func.count().filter(SocialAccount.followers.is_(None)),
        )
        .select_from(ReachTally)
        .join(SocialAccount, SocialAccount.id == ReachTally.account_id)
        .where(ReachTally.campaign_id == scope.campaign_id, ReachTally.wave_id == scope.wave_key)
    ).one()
    return Reach(int(accounts), int(followers), int(unknown))


def _metric_conditions(scope: Scope) -> list[Any]:
    conditions: list[Any] = [PostMetric.campaign_id == scope.campaign_id]
    if scope.wave_id is not None:
        conditions.append(PostMetric.wave_id == scope.wave_id)
    return conditions


def engagement(scope: Scope) -> Engagement:
    posts, measured, likes, reposts, replies, quotes, last = db.session.execute(
        select(
            func.count(),
            func.count(PostMetric.fetched_at),
            func.coalesce(func.sum(PostMetric.likes), 0),
            func.coalesce(func.sum(PostMetric.reposts), 0),
            func.coalesce(func.sum(PostMetric.replies), 0),
            func.coalesce(func.sum(PostMetric.quotes), 0),
            func.max(PostMetric.fetched_at),
        ).where(*_metric_conditions(scope))
    ).one()
    problems = db.session.execute(
        select(PostMetric.error, func.count())
        .where(*_metric_conditions(scope), PostMetric.error != "")
        .group_by(PostMetric.error)
        .order_by(func.count().desc())
    ).all()
    if isinstance(last, str):  # SQLite's MAX over a timestamp column is text
        last = datetime.fromisoformat(last).replace(tzinfo=UTC)
    return Engagement(
        posts=int(posts),
        measured=int(measured),
        likes=int(likes),
        reposts=int(reposts),
        replies=int(replies),
        quotes=int(quotes),
        last_fetched_at=last,
        problems=[Count(reason, reason, int(n)) for reason, n in problems],
    )


def answers(scope: Scope, *, limit: int = 50) -> list[Answer]:
    conditions: list[Any] = [PostReply.campaign_id == scope.campaign_id]
    if scope.wave_id is not None:
        conditions.append(PostReply.wave_id == scope.wave_id)
    rows = db.session.execute(
        select(PostReply, Recipient)
        .join(Recipient, Recipient.id == PostReply.recipient_id)
        .where(*conditions)
        .order_by(PostReply.replied_at.desc(), PostReply.id.desc())
        .limit(limit)
    ).all()
    return [Answer(r.name, reply.network, masked(reply.text), reply.url, reply.replied_at) for reply, r in rows]


_MENTION = re.compile(r"@[\w.-]+(?:@[\w.-]+)?")


def masked(text: str) -> str:
    """A reply's text with its mentions hidden: they name the supporter it answers."""
    return _MENTION.sub("@…", text)


def figures(scope: Scope) -> Figures:
    by_day, by_hour = by_time(scope)
    modes = by_mode_counts(scope)
    return Figures(
        scope=scope,
        funnel=funnel(scope, modes),
        by_network=by_network_counts(scope),
        by_mode=modes,
        by_variant=by_variant_counts(scope),
        by_day=by_day,
        by_hour=by_hour,
        supporters=supporters(scope),
        reach=reach(scope),
        engagement=engagement(scope),
        answers=answers(scope),
    )
