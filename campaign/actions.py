"""Recording what supporters do, and the counts the organiser's page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select

from campaign.models import Action, ActionMode, Campaign, CampaignTarget
from campaign.tallies import CAMPAIGN_WIDE, ActionTally, SupporterDay, folded_upto
from channels import Network
from database import utcnow
from extensions import db
from recipients.models import Recipient


class HasId(Protocol):
    @property
    def id(self) -> int: ...


def record_action(
    campaign: HasId,  # a Campaign or its page snapshot
    *,
    recipient_id: int,
    variant_id: int | None,
    network: Network,
    visitor_id: str,
    text: str,
    mode: ActionMode = ActionMode.LINK,
    delivery_id: int | None = None,
    author_handle: str | None = None,
    wave_id: int | None = None,
    now: datetime | None = None,
) -> Action:
    """Append the action: one row, shared with no other click. The target's count and rotation and the
    tallies follow at the next fold (`campaign.fold`, every second)."""
    now = now or utcnow()
    action = Action(
        campaign_id=campaign.id,
        recipient_id=recipient_id,
        variant_id=variant_id,
        network=network,
        mode=mode,
        visitor_id=visitor_id,
        text=text,
        created_at=now,
        delivery_id=delivery_id,
        author_handle=author_handle,
        wave_id=wave_id,
    )
    db.session.add(action)
    db.session.flush()
    return action


@dataclass(frozen=True)
class CampaignStats:
    actions: int
    visitors: int
    targets: int
    targets_reached: int
    by_network: dict[Network, int]
    top_targets: list[tuple[Recipient, int]]


def campaign_stats(campaign: Campaign, *, top: int = 10) -> CampaignStats:
    """The organiser's page's counts, from the counters kept with each action (no scan of the actions)."""
    rows = db.session.execute(
        select(ActionTally.network, func.sum(ActionTally.actions))
        .where(ActionTally.campaign_id == campaign.id)
        .group_by(ActionTally.network)
    ).tuples()
    by_network = {network: int(count or 0) for network, count in rows}
    visitors = db.session.scalar(
        select(func.coalesce(func.sum(SupporterDay.supporters), 0)).where(
            SupporterDay.campaign_id == campaign.id, SupporterDay.wave_id == CAMPAIGN_WIDE
        )
    )
    targets, reached = db.session.execute(
        select(func.count(), func.count().filter(CampaignTarget.action_count > 0)).where(
            CampaignTarget.campaign_id == campaign.id
        )
    ).one()
    top_rows = db.session.execute(
        select(Recipient, CampaignTarget.action_count)
        .join(CampaignTarget, CampaignTarget.recipient_id == Recipient.id)
        .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.action_count > 0)
        .order_by(CampaignTarget.action_count.desc(), Recipient.last_name)
        .limit(top)
    ).all()
    return CampaignStats(
        actions=counted_actions(campaign),
        visitors=int(visitors or 0),
        targets=int(targets or 0),
        targets_reached=int(reached or 0),
        by_network={network: by_network.get(network, 0) for network in Network},
        top_targets=[(recipient, int(count)) for recipient, count in top_rows],
    )


def counted_actions(campaign: Campaign) -> int:
    """The campaign's actions the fold has counted, read from the per-target counters."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(CampaignTarget.action_count), 0)).where(CampaignTarget.campaign_id == campaign.id)
    )
    return int(total or 0)


def total_actions(campaign: Campaign) -> int:
    """Every action of the campaign, this second's included: the counted ones, and those above the mark
    (a short range of the primary key: the fold runs every second)."""
    waiting = db.session.scalar(
        select(func.count()).where(Action.id > folded_upto(), Action.campaign_id == campaign.id)
    )
    return counted_actions(campaign) + int(waiting or 0)
