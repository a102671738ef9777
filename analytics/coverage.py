"""Coverage: which targets were reached and how often, by group and department, and the pressure on each
target across every campaign of the organisation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from analytics.figures import Count, Scope
from campaign.models import Campaign, CampaignTarget, WaveTarget
from campaign.tallies import TargetTally
from extensions import db
from recipients.models import Recipient

# Messages per target, in buckets a chart can show (the last is open-ended).
BUCKETS = ((0, 0), (1, 1), (2, 5), (6, 10), (11, 50), (51, None))
SORTS = ("name", "group", "department", "actions", "confirmed", "pressure")


@dataclass(frozen=True)
class TargetRow:
    recipient_id: int
    name: str
    group: str
    department: str
    actions: int  # messages in this campaign (or wave)
    confirmed: int
    pressure: int  # messages across every campaign of the organisation


@dataclass(frozen=True)
class Share:
    key: str
    targets: int
    reached: int

    @property
    def percent(self) -> int:
        return round(100 * self.reached / self.targets) if self.targets else 0


@dataclass(frozen=True)
class Coverage:
    targets: int
    reached: int
    rows: list[TargetRow]
    distribution: list[Count]
    by_group: list[Share]
    by_department: list[Share]

    @property
    def not_reached(self) -> list[TargetRow]:
        return [row for row in self.rows if row.actions == 0]

    @property
    def percent(self) -> int:
        return round(100 * self.reached / self.targets) if self.targets else 0


def bucket_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}–{high}"


def coverage(scope: Scope, *, sort: str = "actions", descending: bool = True) -> Coverage:
    """The targets of the campaign (or the wave), each with its counts; sorted as the table asks."""
    if scope.wave_id is None:
        members = select(CampaignTarget.recipient_id).where(CampaignTarget.campaign_id == scope.campaign_id)
    else:
        members = select(WaveTarget.recipient_id).where(WaveTarget.wave_id == scope.wave_id)
    tally = (
        select(TargetTally.recipient_id, TargetTally.actions, TargetTally.confirmed)
        .where(TargetTally.campaign_id == scope.campaign_id, TargetTally.wave_id == scope.wave_key)
        .subquery()
    )
    organisation_id = select(Campaign.organisation_id).where(Campaign.id == scope.campaign_id).scalar_subquery()
    pressure = (
        select(CampaignTarget.recipient_id, func.sum(CampaignTarget.action_count).label("total"))
        .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
        .where(Campaign.organisation_id == organisation_id, CampaignTarget.recipient_id.in_(members))
        .group_by(CampaignTarget.recipient_id)
        .subquery()
    )
    found = db.session.execute(
        select(
            Recipient,
            func.coalesce(tally.c.actions, 0),
            func.coalesce(tally.c.confirmed, 0),
            func.coalesce(pressure.c.total, 0),
        )
        .outerjoin(tally, tally.c.recipient_id == Recipient.id)
        .outerjoin(pressure, pressure.c.recipient_id == Recipient.id)
        .where(Recipient.id.in_(members))
    ).all()
    rows = [TargetRow(r.id, r.name, r.group_name, r.department, int(a), int(c), int(p)) for r, a, c, p in found]
    return Coverage(
        targets=len(rows),
        reached=sum(1 for row in rows if row.actions),
        rows=sort_rows(rows, sort, descending=descending),
        distribution=_distribution(rows),
        by_group=_shares(rows, lambda row: row.group),
        by_department=_shares(rows, lambda row: row.department),
    )


def sort_rows(rows: list[TargetRow], sort: str, *, descending: bool) -> list[TargetRow]:
    key = sort if sort in SORTS else "actions"
    ordered = sorted(rows, key=lambda row: row.name.casefold())  # the tie-break, always A to Z
    if key == "name":
        return ordered[::-1] if descending else ordered
    if key in ("group", "department"):
        return sorted(ordered, key=lambda row: str(getattr(row, key)).casefold(), reverse=descending)
    return sorted(ordered, key=lambda row: int(getattr(row, key)), reverse=descending)


def _distribution(rows: list[TargetRow]) -> list[Count]:
    counts = []
    for low, high in BUCKETS:
        n = sum(1 for row in rows if row.actions >= low and (high is None or row.actions <= high))
        label = bucket_label(low, high)
        counts.append(Count(label, label, n))
    return counts


def _shares(rows: list[TargetRow], key: object) -> list[Share]:
    targets: defaultdict[str, int] = defaultdict(int)
    reached: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        name = key(row) or "—"  # type: ignore[operator]
        targets[name] += 1
        reached[name] += 1 if row.actions else 0
    shares = [Share(name, targets[name], reached[name]) for name in targets]
    return sorted(shares, key=lambda share: (-share.targets, share.key))
