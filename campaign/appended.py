"""What the supporter's hot path appends, and the per-minute counts the hourly cap reads.

A page view appends a `VisitEvent`, a click its `Action` (`campaign.actions`); `campaign.fold` folds both
every second, into the tallies and into `TargetMinute`, which `recent_counts` sums for the cap.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, Table, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model, db

CAP_WINDOW = timedelta(hours=1)  # a wave's cap counts a target's messages over this window
MINUTES_KEPT = 2 * CAP_WINDOW


class VisitEvent(Model):
    """A supporter page view to count (a new visit, a target shown) or a refused click; folded, then deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    wave_id: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    visits: Mapped[int] = mapped_column(default=0)
    shown: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)


class TargetMinute(Model):
    """Messages to a target per minute, across campaigns: the hourly cap sums the last sixty."""

    __table_args__ = (Index("ix_target_minute_minute", "minute"),)

    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    actions: Mapped[int] = mapped_column(default=0)


_APPEND_VISIT = insert(cast(Table, VisitEvent.__table__))


def count_visit(
    campaign_id: int, wave_id: int | None, now: datetime, *, visit: bool, shown: bool, refused: bool = False
) -> None:
    """Append a supporter page view (a new visit, a target shown, or both), or a click refused as abuse."""
    if not (visit or shown or refused):
        return
    db.session.execute(
        _APPEND_VISIT,  # the table's insert, not the ORM's: compiled once, cached
        {
            "campaign_id": campaign_id,
            "wave_id": wave_id or 0,
            "created_at": now,
            "visits": int(visit),
            "shown": int(shown),
            "refused": int(refused),
        },
    )


def recent_counts(recipient_ids: Collection[int] | None, now: datetime, *, subquery: Any = None) -> dict[int, int]:
    """Messages each target received in the last hour, across all campaigns (the cap's measure), from the
    folded per-minute counts (the last second's clicks join at the next fold)."""
    query = select(TargetMinute.recipient_id, func.sum(TargetMinute.actions)).where(
        TargetMinute.minute > now - CAP_WINDOW
    )
    if subquery is not None:
        query = query.where(TargetMinute.recipient_id.in_(subquery))
    elif recipient_ids is not None:
        if not recipient_ids:
            return {}
        query = query.where(TargetMinute.recipient_id.in_(list(recipient_ids)))
    rows = db.session.execute(query.group_by(TargetMinute.recipient_id)).tuples()
    return {recipient_id: int(count or 0) for recipient_id, count in rows}
