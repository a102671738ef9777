"""Recording what supporters do, and the counts the organiser's page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from campaign.models import Action, ActionMode, Campaign, CampaignTarget
from campaign.tallies import CAMPAIGN_WIDE, ActionTally, SupporterDay, count_action
from channels import Network
from database import utcnow
from extensions import db
from recipients.models import Recipient


def record_action(
    campaign: Campaign,
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
    """Store the action and advance the target's count and rotation in the same transaction."""
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
    # One UPDATE, not read-modify-write: concurrent clicks on one target each add one.
    db.session.execute(
        update(CampaignTarget)
        .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id == recipient_id)
        .values(action_count=CampaignTarget.action_count + 1, last_variant_id=variant_id, last_action_at=now)
    )
    db.session.flush()
    count_action(action)
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
        actions=total_actions(campaign),
        visitors=int(visitors or 0),
        targets=int(targets or 0),
        targets_reached=int(reached or 0),
        by_network={network: by_network.get(network, 0) for network in Network},
        top_targets=[(recipient, int(count)) for recipient, count in top_rows],
    )


def total_actions(campaign: Campaign) -> int:
    """Every action of the campaign, read from the per-target counters (cheap on large campaigns)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(CampaignTarget.action_count), 0)).where(CampaignTarget.campaign_id == campaign.id)
    )
    return int(total or 0)
