"""Words for the dashboards' keys, in the page's language."""

from __future__ import annotations

from flask_babel import gettext as _

from analytics.engagement import GONE, RATE_LIMITED, RECONNECT, UNAVAILABLE


def mode_label(mode: str) -> str:
    return {"link": _("compose link"), "api": _("connected account"), "pledge": _("pledged post")}.get(mode, mode)


def problem_label(reason: str) -> str:
    """Why some posts' counts could not be read lately."""
    return {
        RATE_LIMITED: _("the network limited us; we wait for the time it gave"),
        RECONNECT: _("the supporter's account must be reconnected"),
        UNAVAILABLE: _("the network did not answer; we try again in half an hour"),
        GONE: _("the post is deleted or no longer public"),
    }.get(reason, reason)
