"""What analytics keeps of its own: the answers targets gave to supporters' posts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from channels import Network
from database import utcnow
from extensions import Model


class PostReply(Model):
    """A reply by a target's own account to a supporter's post, as the network showed it."""

    __table_args__ = (
        UniqueConstraint("network", "remote_id"),
        Index("ix_post_reply_campaign_wave", "campaign_id", "wave_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    wave_id: Mapped[int] = mapped_column(default=0)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    network: Mapped[Network]
    remote_id: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[datetime | None]
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
