"""The rows a wave makes: e-mail subscriptions, their reminders, pledged posts, and their outbox kinds."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from channels import Network
from database import utcnow
from extensions import Model

# The outbox kinds a wave's rows are delivered under (`app.register_jobs` names their handlers).
REMINDER = "reminder"
PLEDGE = "pledge"
CONFIRM = "confirm_subscription"


class SubscriptionState(enum.StrEnum):
    PENDING = "pending"  # asked; the confirmation e-mail's link not yet followed
    CONFIRMED = "confirmed"  # hears of every wave of the campaign
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # the address was refused for good: nothing more is sent to it
    ERASED = "erased"  # the address is gone (a data request, or retention); the row counts its reminders


class Subscription(Model):
    """A supporter's wish to hear of a campaign's waves by e-mail (double opt-in)."""

    __table_args__ = (
        UniqueConstraint("campaign_id", "email"),
        Index("ix_subscription_campaign_state", "campaign_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), default="fr")
    state: Mapped[SubscriptionState] = mapped_column(default=SubscriptionState.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirm_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    bounce_reason: Mapped[str] = mapped_column(Text, default="")
    shared_at: Mapped[datetime | None]  # agreed that the organisers may have the address (valid once confirmed)
    # The browser it was asked from, so that a data request from that browser finds it (and from it, its acts).
    visitor_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    supporter_id: Mapped[int | None] = mapped_column(index=True)  # no key: supporters' rows are never deleted


class Reminder(Model):
    """One wave's e-mail to one subscription: the unique pair is what makes it go out once."""

    __table_args__ = (UniqueConstraint("wave_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscription.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]  # its place in the wave's run: decides the targets it assigns
    opened_at: Mapped[datetime | None]  # the personal link was followed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PledgeState(enum.StrEnum):
    PLEDGED = "pledged"  # approved by its supporter, waiting for its release time
    RELEASED = "released"  # handed to the outbox (the delivery says whether it is posted)
    CANCELLED = "cancelled"  # withdrawn, the account disconnected, or the wave ended first (`reason` says)


PLEDGE_NETWORKS = ("bluesky", "mastodon")  # never X: its rules forbid scheduled and coordinated posts


class Pledge(Model):
    """A post a supporter approved, word for word, for the scheduler to release during a wave."""

    __table_args__ = (
        CheckConstraint("network IN ('bluesky', 'mastodon')", name="not_on_x"),
        Index("ix_pledge_state_release", "state", "release_at"),
        Index("ix_pledge_wave_recipient", "wave_id", "recipient_id"),
        UniqueConstraint("wave_id", "account_id", "recipient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"))
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("social_account.id", ondelete="SET NULL"), index=True)
    network: Mapped[Network]
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variant.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[PledgeState] = mapped_column(default=PledgeState.PLEDGED)
    release_at: Mapped[datetime | None]  # set when the wave opens (or at once, for a pledge made while open)
    released_at: Mapped[datetime | None]
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("network")
    def _never_on_x(self, _key: str, network: Network) -> Network:
        if Network(network).value not in PLEDGE_NETWORKS:
            raise ValueError("pledged posts go out on Bluesky and Mastodon only, never on X")
        return network
