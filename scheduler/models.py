"""The delivery outbox: a row per post to make, the truth about it before and after any queue."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from channels import Network
from database import utcnow
from extensions import Model


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"  # waiting for `next_attempt_at`
    SENDING = "sending"  # claimed by a worker; the sweeper re-queues it if the worker died
    POSTED = "posted"
    FAILED = "failed"  # `error_kind` and `error` say why, in the network's words
    CANCELLED = "cancelled"  # the account was disconnected before it went out


class Delivery(Model):
    """One post (or e-mail) to make. `kind` names the handler a package registered for it."""

    __table_args__ = (
        Index("ix_delivery_state_due", "state", "next_attempt_at"),
        Index("ix_delivery_kind_ref", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int | None]  # the row of the registering package this delivery is for (a reminder, a pledge)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("social_account.id", ondelete="SET NULL"), index=True)
    network: Mapped[Network]
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="")
    state: Mapped[DeliveryState] = mapped_column(default=DeliveryState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]  # handed to a queue; handed again if still unclaimed long after
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)  # Mastodon's header; Bluesky's record key
    remote_id: Mapped[str] = mapped_column(String(300), default="")
    remote_url: Mapped[str] = mapped_column(String(500), default="")
    error_kind: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]

    @property
    def is_pending(self) -> bool:
        return self.state in (DeliveryState.QUEUED, DeliveryState.SENDING)


class SchedulerLease(Model):
    """Who may tick the jobs, until when. One row per lease name; its holder renews it at every tick."""

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
