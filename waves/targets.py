"""Which of a campaign's targets and messages a wave takes (its filter, its usable messages)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from campaign.models import Campaign, CampaignTarget, Message, Variant
from extensions import db
from recipients.models import Recipient, TargetRole
from recipients.services import TargetFilter, select_targets


def wave_criteria(
    roles: Collection[TargetRole] = (), groups: Collection[str] = (), departments: Collection[str] = ()
) -> dict[str, Any]:
    """A wave's filter over its campaign's targets, as stored (a TargetFilter's criteria)."""
    chosen = TargetFilter(roles=tuple(roles), groups=tuple(groups), departments=tuple(departments))
    return {key: value for key, value in chosen.criteria().items() if key != "activity"}


def campaign_values(campaign: Campaign, column: str) -> list[str]:
    """The values of a target column among the campaign's targets (a wave's filter offers these)."""
    attribute = getattr(Recipient, column)
    values = db.session.scalars(
        select(attribute)
        .join(CampaignTarget, CampaignTarget.recipient_id == Recipient.id)
        .where(CampaignTarget.campaign_id == campaign.id)
        .distinct()
        .order_by(attribute)
    )
    return [str(value) for value in values if value]


def matching_target_ids(campaign: Campaign, criteria: dict[str, Any]) -> list[int]:
    """The campaign's targets that pass the wave's filter, in a stable order (the reminders' assignment order)."""
    matching = select_targets(campaign.organisation_id, TargetFilter.from_criteria(criteria)).with_only_columns(
        Recipient.id
    )
    return list(
        db.session.scalars(
            select(CampaignTarget.recipient_id)
            .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id.in_(matching))
            .order_by(CampaignTarget.recipient_id)
        )
    )


def usable_message_ids(campaign: Campaign, message_ids: Collection[int]) -> list[int]:
    """The chosen messages that belong to the campaign and have an active variant."""
    return list(
        db.session.scalars(
            select(Message.id)
            .where(Message.campaign_id == campaign.id, Message.id.in_(list(message_ids)))
            .where(select(Variant.id).where(Variant.message_id == Message.id, Variant.is_active.is_(True)).exists())
            .order_by(Message.position, Message.id)
        )
    )
