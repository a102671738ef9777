"""The banner staff see when no scheduler ticks: posts through connected accounts and waves would wait."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_datetime

from database import utcnow
from scheduler import lease


def stale_since() -> str | None:
    """None while a scheduler ticks; the time of its last tick when it stopped; "" when none ever ran."""
    beat = lease.heartbeat()
    if beat is not None and not lease.is_stale(utcnow()):
        return None
    return format_datetime(beat, "short") if beat else ""  # on the organisation's clock


def init_app(app: Flask) -> None:
    @app.context_processor
    def _scheduler() -> dict[str, object]:
        return {"scheduler_stale_since": stale_since}  # a function: only staff pages call it (one key read)
