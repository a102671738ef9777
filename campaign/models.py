"""Campaigns, their messages and variants, their targets, and the actions supporters take."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from accounts.models import Organisation
from channels import Network
from database import utcnow
from extensions import Model
from recipients.models import Recipient, RecipientList


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


class ActionMode(enum.StrEnum):
    LINK = "link"  # the supporter opened the network's compose link
    API = "api"  # posted through the supporter's connected account
    PLEDGE = "pledge"  # released by the scheduler during a wave (never on X)


class WaveStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for `opens_at` (and for its campaign to be live)
    OPEN = "open"  # the page offers its targets, reminders go out, pledges are released
    PAUSED = "paused"  # held by the organiser: nothing offered, nothing released, until resumed
    CLOSED = "closed"  # its window ended
    CANCELLED = "cancelled"  # called off; nothing more goes out


LIVE_STATES = (WaveStatus.SCHEDULED, WaveStatus.OPEN, WaveStatus.PAUSED)  # waves that have not ended


class Campaign(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    cause: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(2), default="fr")
    hashtags: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    networks: Mapped[list[str]] = mapped_column(JSON, default=lambda: [n.value for n in Network])
    status: Mapped[CampaignStatus] = mapped_column(default=CampaignStatus.DRAFT)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # The targets the organiser chose: a list, and filters (a TargetFilter's criteria) over it or over
    # every target. A campaign with neither aims at no one: an import never joins it by default.
    recipient_list_id: Mapped[int | None] = mapped_column(ForeignKey("recipient_list.id", ondelete="SET NULL"))
    target_criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    archived_at: Mapped[datetime | None]  # off the campaigns page's main list; its page still answers
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    # Bumped by every change of what its supporters see (`campaign.versions`): the page's snapshot key.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    recipient_list: Mapped[RecipientList | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="campaign", order_by="Message.position", cascade="all, delete-orphan"
    )

    @property
    def enabled_networks(self) -> list[Network]:
        return [network for network in Network if network.value in (self.networks or [])]

    @property
    def privacy_slug(self) -> str:
        """The organisation's privacy page (linked from the campaign's pages)."""
        session = object_session(self)
        query = select(Organisation.slug).where(Organisation.id == self.organisation_id)
        return (session.scalar(query) if session is not None else None) or ""


class CampaignSlug(Model):
    """An address a campaign had: links already shared and reminders already sent keep opening it."""

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TargetChange(Model):
    """Targets a campaign gained or lost without its organiser touching it (an import, a list edited),
    so its page can say what changed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    added: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    names: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # "added"/"removed" → a few names
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Model):
    """One thing to say, in several human-written wordings (variants)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    # The e-mail is a letter of its own, not the social text: a subject, a body with no network's limit,
    # signed on the page with the supporter's name and postcode when they give them.
    email_subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    email_body: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="messages")
    variants: Mapped[list[Variant]] = relationship(
        back_populates="message", order_by="Variant.id", cascade="all, delete-orphan"
    )


class Variant(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    body: Mapped[str] = mapped_column(Text)  # the text on every social network that has none of its own
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")  # network → its own text
    is_active: Mapped[bool] = mapped_column(default=True)  # retired variants keep their actions' history
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    message: Mapped[Message] = relationship(back_populates="variants")

    def template_for(self, network: Network) -> str:
        """What this variant says on `network`: its message's letter by e-mail ("" when it has none), else its
        own text for that network, or the text it shares with the others."""
        if network is Network.EMAIL:
            return self.message.email_body
        return (self.texts or {}).get(network.value) or self.body


class CampaignTarget(Model):
    """A target of a campaign, with its exact action count kept in step with `Action` rows.

    The count is what target selection sorts on: reading it is one indexed range scan, where
    counting actions would read every action of the campaign on each page view.
    """

    __table_args__ = (Index("ix_campaign_target_campaign_count", "campaign_id", "action_count"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"), primary_key=True, index=True)
    action_count: Mapped[int] = mapped_column(default=0)
    last_variant_id: Mapped[int | None] = mapped_column(ForeignKey("variant.id", ondelete="SET NULL"))
    last_action_at: Mapped[datetime | None]

    recipient: Mapped[Recipient] = relationship()


class Wave(Model):
    """A window in which a campaign concentrates its pressure: these targets, these messages, these networks."""

    __table_args__ = (Index("ix_wave_status_opens", "status", "opens_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[WaveStatus] = mapped_column(default=WaveStatus.SCHEDULED)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    message_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_criteria: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # a TargetFilter's, over the campaign's
    cap_per_hour: Mapped[int] = mapped_column(default=30)  # messages per target per hour, all campaigns
    reminder_text: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reminders_queued_at: Mapped[datetime | None]  # when every confirmed subscriber had their reminder queued
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship()

    @property
    def enabled_networks(self) -> list[Network]:
        return [network for network in Network if network.value in (self.networks or [])]


class WaveTarget(Model):
    """A target of a wave, in the order reminders assign them."""

    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)

    recipient: Mapped[Recipient] = relationship()


class Action(Model):
    """One supporter's act: a message to a target on a network. The text is the text they were shown.

    A compose-link action is confirmed when the post is found on the author's public timeline; an
    API action is posted when its delivery is.
    """

    __table_args__ = (
        Index("ix_action_campaign_created", "campaign_id", "created_at"),
        Index("ix_action_confirm", "confirmed_at", "author_handle"),
        Index("ix_action_recipient_created", "recipient_id", "created_at"),  # the per-target hourly cap
        # Whether a visit already wrote to a target on a network: the check every click makes.
        Index("ix_action_visitor", "visitor_id", "campaign_id", "recipient_id", "network"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variant.id", ondelete="SET NULL"), index=True)
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("wave.id", ondelete="SET NULL"), index=True)
    network: Mapped[Network]
    mode: Mapped[ActionMode] = mapped_column(default=ActionMode.LINK)
    visitor_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id", ondelete="SET NULL"), index=True)
    author_handle: Mapped[str | None] = mapped_column(String(320))  # who said they posted it (to confirm it)
    confirmed_at: Mapped[datetime | None]
    confirmed_url: Mapped[str] = mapped_column(String(500), default="")
    confirm_checked_at: Mapped[datetime | None]

    recipient: Mapped[Recipient] = relationship()
