"""The staff pages' way to a campaign or a wave: the signed-in user's organisation's, or 404 (never 403)."""

from __future__ import annotations

from flask import abort

from accounts.permissions import current_organisation_id
from campaign.models import Campaign, Wave
from extensions import db


def campaign_or_404(campaign_id: int) -> Campaign:
    """The campaign if it belongs to the signed-in user's organisation; 404 otherwise, so ids leak nothing."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organisation_id != current_organisation_id():
        abort(404)
    return campaign


def wave_or_404(campaign: Campaign, wave_id: int) -> Wave:
    wave = db.session.get(Wave, wave_id)
    if wave is None or wave.campaign_id != campaign.id:
        abort(404)
    return wave
