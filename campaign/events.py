"""What campaigns do when their targets change elsewhere (an import, a list edited)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from campaign import snapshot, versions
from campaign.models import Campaign, CampaignStatus
from campaign.targets import sync_targets
from extensions import db
from recipients.signals import targets_changed


def resync_campaigns(_sender: Any, *, organisation_id: int) -> None:
    """Re-sync the targets of the organisation's campaigns that have not ended, in the caller's transaction.

    Safe to repeat: `sync_targets` makes the rows match the list and filters, whatever they were.
    """
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.organisation_id == organisation_id, Campaign.status != CampaignStatus.ENDED)
    )
    for campaign in campaigns:
        sync_targets(campaign, log=True)
    db.session.flush()


def init_app(app: Flask) -> None:
    # A weak reference would do for a module function; strong makes the intent plain.
    targets_changed.connect(resync_campaigns, weak=False)
    versions.init_app()
    snapshot.init_app(app)
