"""An organisation's campaigns side by side, and the targets under the most pressure across them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from campaign.models import Campaign, CampaignStatus, CampaignTarget
from campaign.tallies import ActionTally, ReachTally, SupporterDay, TargetTally
from extensions import db
from recipients.models import Recipient
from supporters.models import SocialAccount


@dataclass(frozen=True)
class CampaignLine:
    campaign_id: int
    title: str
    status: CampaignStatus
    targets: int
    reached: int
    actions: int
    confirmed: int
    supporters: int
    followers: int


@dataclass(frozen=True)
class Pressure:
    recipient_id: int
    name: str
    group: str
    department: str
    messages: int
    campaigns: int


@dataclass(frozen=True)
class Overview:
    campaigns: list[CampaignLine]
    pressure: list[Pressure]

    @property
    def actions(self) -> int:
        return sum(line.actions for line in self.campaigns)

    @property
    def confirmed(self) -> int:
        return sum(line.confirmed for line in self.campaigns)


def _by_campaign(statement: object) -> dict[int, tuple[int, ...]]:
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in db.session.execute(statement).all()}  # type: ignore[call-overload]


def overview(organisation_id: int, *, top: int = 20) -> Overview:
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.organisation_id == organisation_id).order_by(Campaign.created_at.desc())
    ).all()
    ours = select(Campaign.id).where(Campaign.organisation_id == organisation_id)
    actions = _by_campaign(
        select(ActionTally.campaign_id, func.sum(ActionTally.actions), func.sum(ActionTally.confirmed))
        .where(ActionTally.campaign_id.in_(ours))
        .group_by(ActionTally.campaign_id)
    )
    targets = _by_campaign(
        select(CampaignTarget.campaign_id, func.count())
        .where(CampaignTarget.campaign_id.in_(ours))
        .group_by(CampaignTarget.campaign_id)
    )
    reached = _by_campaign(
        select(TargetTally.campaign_id, func.count())
        .where(TargetTally.campaign_id.in_(ours), TargetTally.wave_id == 0, TargetTally.actions > 0)
        .group_by(TargetTally.campaign_id)
    )
    people = _by_campaign(
        select(SupporterDay.campaign_id, func.sum(SupporterDay.supporters))
        .where(SupporterDay.campaign_id.in_(ours), SupporterDay.wave_id == 0)
        .group_by(SupporterDay.campaign_id)
    )
    followers = _by_campaign(
        select(ReachTally.campaign_id, func.sum(SocialAccount.followers))
        .join(SocialAccount, SocialAccount.id == ReachTally.account_id)
        .where(ReachTally.campaign_id.in_(ours), ReachTally.wave_id == 0)
        .group_by(ReachTally.campaign_id)
    )
    lines = [
        CampaignLine(
            campaign_id=c.id,
            title=c.title,
            status=c.status,
            targets=targets.get(c.id, (0,))[0],
            reached=reached.get(c.id, (0,))[0],
            actions=actions.get(c.id, (0, 0))[0],
            confirmed=actions.get(c.id, (0, 0))[1],
            supporters=people.get(c.id, (0,))[0],
            followers=followers.get(c.id, (0,))[0],
        )
        for c in campaigns
    ]
    total = func.sum(CampaignTarget.action_count)
    pressed = db.session.execute(
        select(Recipient, total, func.count().filter(CampaignTarget.action_count > 0))
        .join(CampaignTarget, CampaignTarget.recipient_id == Recipient.id)
        .where(CampaignTarget.campaign_id.in_(ours))
        .group_by(Recipient.id)
        .having(total > 0)
        .order_by(total.desc(), Recipient.last_name)
        .limit(top)
    ).all()
    pressure = [Pressure(r.id, r.name, r.group_name, r.department, int(n), int(k)) for r, n, k in pressed]
    return Overview(lines, pressure)
