"""Signals other packages listen to, so `recipients` never imports them (arrows point down)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent, inside the caller's transaction, when an organisation's targets or lists change (an import,
# a list edited, a target retired). Campaigns re-sync their targets on it. Keyword: organisation_id.
targets_changed = _signals.signal("targets-changed")


def notify_targets_changed(organisation_id: int) -> None:
    targets_changed.send(None, organisation_id=organisation_id)
