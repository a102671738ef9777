"""`flask analytics rebuild`: recompute a campaign's tallies from its actions (after an upgrade or a bulk load)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from campaign.models import Campaign
from campaign.tallies import rebuild
from extensions import db

analytics_cli = AppGroup("analytics", help="Reach, coverage and engagement figures.")


@analytics_cli.command("rebuild")
@click.option("--campaign", "campaign_ids", type=int, multiple=True, help="A campaign's id (every campaign if none).")
def rebuild_command(campaign_ids: tuple[int, ...]) -> None:
    """Recompute the tallies the dashboards read, exactly, from the actions and deliveries."""
    ids = list(campaign_ids) or list(db.session.scalars(select(Campaign.id).order_by(Campaign.id)))
    for campaign_id in ids:
        if db.session.get(Campaign, campaign_id) is None:
            raise click.ClickException(f"no campaign {campaign_id}")
        rebuild(campaign_id)
        db.session.commit()
        click.echo(f"campaign {campaign_id}: tallies rebuilt")
