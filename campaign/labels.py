"""Words for enum values, in the visitor's language (templates use these, never raw values)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaign.models import CampaignStatus, WaveStatus


def status_label(status: CampaignStatus) -> str:
    return {
        CampaignStatus.DRAFT: _("draft"),
        CampaignStatus.LIVE: _("live"),
        CampaignStatus.PAUSED: _("paused"),
        CampaignStatus.ENDED: _("ended"),
    }[status]


def wave_status_label(status: WaveStatus) -> str:
    return {
        WaveStatus.SCHEDULED: _("scheduled"),
        WaveStatus.OPEN: _("open"),
        WaveStatus.PAUSED: _("paused"),
        WaveStatus.CLOSED: _("closed"),
        WaveStatus.CANCELLED: _("cancelled"),
    }[status]


# Why a pledge was not posted: stored in these words (the scheduler has no reader), shown in the reader's.
WAVE_CANCELLED = "the wave was cancelled"
WAVE_CLOSED = "the wave closed before its turn"
ACCOUNT_GONE = "the account was disconnected"
WITHDRAWN = "you withdrew it"
WAVE_CHANGED = "the wave no longer includes its target, message or network"
PLEDGE_REASONS = {
    WAVE_CANCELLED: _l("the wave was cancelled"),
    WAVE_CLOSED: _l("the wave closed before its turn"),
    ACCOUNT_GONE: _l("the account was disconnected"),
    WITHDRAWN: _l("you withdrew it"),
    WAVE_CHANGED: _l("the wave no longer includes its target, message or network"),
}


def pledge_reason(reason: str) -> str:
    return str(PLEDGE_REASONS.get(reason, reason))


def wall_clock(moment: datetime | None, pattern: str = "EEE d MMM HH:mm") -> str:
    """A UTC moment on the organisers' clock (TIMEZONE), in the page's language."""
    if moment is None:
        return ""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return format_datetime(moment, pattern, tzinfo=zone, locale=str(get_locale() or "fr"))


def paragraphs(text: str) -> list[str]:
    """Split a cause into paragraphs on empty lines (each rendered escaped, in its own <p>)."""
    return [block.strip() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]


def init_app(app: Flask) -> None:
    app.add_template_global(status_label)
    app.add_template_global(wave_status_label)
    app.add_template_filter(wall_clock)
    app.add_template_filter(paragraphs)
    app.add_template_filter(pledge_reason)
