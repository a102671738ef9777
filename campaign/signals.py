"""Signals that packages above `campaign` listen to, so that `campaign` never imports them (arrows point down)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent inside the caller's transaction when a campaign ends (`services.change_status`): its waves that
# have not ended are called off. Keyword: now.
campaign_ended = _signals.signal("campaign-ended")
