"""Words for enum values, in the visitor's language (templates use these, never raw values)."""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _

from campaign.models import CampaignStatus


def status_label(status: CampaignStatus) -> str:
    return {
        CampaignStatus.DRAFT: _("draft"),
        CampaignStatus.LIVE: _("live"),
        CampaignStatus.PAUSED: _("paused"),
        CampaignStatus.ENDED: _("ended"),
    }[status]


def paragraphs(text: str) -> list[str]:
    """Split a cause into paragraphs on empty lines (each rendered escaped, in its own <p>)."""
    return [block.strip() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]


def init_app(app: Flask) -> None:
    app.add_template_global(status_label)
    app.add_template_filter(paragraphs)
