"""What every visitor of a campaign shares, built once per change of the campaign and read from memory.

A snapshot holds the campaign, its active variants, its targets with their handles, its waves that have
not ended and their targets, and the texts rendered so far. It is keyed on `Campaign.version`, which
every change bumps (`campaign.versions`): a page reads the version (one indexed row) and builds the
snapshot again only when it moved, or when the snapshot is older than `SNAPSHOT_MAX_AGE` (a change made
outside the ORM's sight still shows within that time).

The targets' counts and last variants (least contacted first, rotation) are read apart, every
`COUNTS_MAX_AGE`: they move with every fold. Caps per wave likewise. The caches live in
`app.extensions`, one per application. A click not folded yet counts at once in this process; in
distributed mode (`PAGE_COUNTS_URL`) it counts in Redis, for every web node (`campaign.clicks`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import exists, select

from accounts.models import Organisation
from campaign.appended import recent_counts
from campaign.clicks import SharedClicks
from campaign.models import (
    LIVE_STATES,
    Campaign,
    CampaignStatus,
    CampaignTarget,
    Message,
    Variant,
    Wave,
    WaveStatus,
    WaveTarget,
)
from campaign.rendering import RenderError, TargetContext, render
from campaign.targets import target_context
from channels import Network
from extensions import db
from recipients.models import PostcodeArea, Recipient, TargetRole

SNAPSHOT_MAX_AGE = 30.0  # seconds
COUNTS_MAX_AGE = 1.0  # seconds: the fold runs every second


@dataclass(frozen=True)
class PageTarget:
    """A target as the supporter page shows it (and a send link names it)."""

    id: int
    name: str
    title: str
    role: TargetRole
    group_name: str
    constituency: str
    constituency_code: str
    handles: dict[Network, str]
    context: TargetContext

    def handle(self, network: Network) -> str | None:
        return self.handles.get(network)


@dataclass(frozen=True)
class PageVariant:
    id: int
    message_id: int
    templates: dict[Network, str]
    email_subject: str


@dataclass(frozen=True)
class PageWave:
    id: int
    title: str
    status: WaveStatus
    opens_at: datetime
    closes_at: datetime
    message_ids: tuple[int, ...]
    networks: tuple[str, ...]
    cap_per_hour: int
    targets: tuple[int, ...]  # in the wave's order (reminders assign in it)
    members: frozenset[int]

    @property
    def enabled_networks(self) -> list[Network]:
        return [Network(value) for value in self.networks if value in Network._value2member_map_]

    def is_open(self, now: datetime) -> bool:
        return self.status is WaveStatus.OPEN and self.opens_at <= now < self.closes_at


@dataclass
class Snapshot:
    """One version of a campaign as its supporters see it. Immutable but for the text cache."""

    id: int
    version: int
    slug: str
    title: str
    cause: str
    status: CampaignStatus
    language: str
    organisation_id: int
    hashtags: str
    link: str
    enabled_networks: list[Network]
    targets: dict[int, PageTarget]
    variants: list[PageVariant]
    waves: list[PageWave]
    postcode_mode: bool
    built_at: float
    deputies: dict[str, list[int]] = field(default_factory=dict)  # constituency code → deputies among targets
    privacy_slug: str = ""  # the organisation's privacy page, linked from every page of the campaign
    _texts: dict[tuple[int, int, Network], str | None] = field(default_factory=dict, repr=False)

    def variants_for(self, message_ids: Collection[int] | None) -> list[PageVariant]:
        if message_ids is None:
            return self.variants
        return [variant for variant in self.variants if variant.message_id in message_ids]

    def variant(self, variant_id: int) -> PageVariant | None:
        return next((variant for variant in self.variants if variant.id == variant_id), None)

    def open_wave(self, now: datetime) -> PageWave | None:
        return next((wave for wave in self.waves if wave.is_open(now)), None)

    def next_wave(self, now: datetime) -> PageWave | None:
        coming = [w for w in self.waves if w.status is WaveStatus.SCHEDULED and w.closes_at > now]
        return min(coming, key=lambda wave: wave.opens_at, default=None)

    def wave_for_action(self, recipient_id: int, now: datetime) -> int | None:
        """The open wave an action to this target counts for, if any."""
        wave = self.open_wave(now)
        return wave.id if wave is not None and recipient_id in wave.members else None

    def text(self, variant: PageVariant, target: PageTarget, network: Network) -> str | None:
        """The variant's text to the target on the network, rendered once per snapshot; None when it cannot be."""
        key = (variant.id, target.id, network)
        if key not in self._texts:
            template = variant.templates.get(network, "")
            try:
                if not template.strip():
                    raise RenderError(f"no text for {network.label}")
                self._texts[key] = render(template, target.context, network, hashtags=self.hashtags, link=self.link)
            except RenderError:
                self._texts[key] = None
        return self._texts[key]

    def subject(self, variant: PageVariant, target: PageTarget) -> str:
        """The subject of the message's e-mail to the target (the campaign's title when it has none)."""
        try:
            text = render(
                variant.email_subject or self.title,
                target.context,
                Network.EMAIL,
                hashtags=self.hashtags,
                link=self.link,
            )
        except RenderError:
            return self.title
        return " ".join(text.split())


def build(campaign: Campaign, now: datetime) -> Snapshot:
    """Read everything the page shares, in five queries."""
    rows = db.session.scalars(
        select(Recipient)
        .join(CampaignTarget, CampaignTarget.recipient_id == Recipient.id)
        .where(CampaignTarget.campaign_id == campaign.id)
        .order_by(Recipient.id)
    ).all()
    targets = {
        r.id: PageTarget(
            id=r.id,
            name=r.name,
            title=r.title,
            role=r.role,
            group_name=r.group_name,
            constituency=r.constituency,
            constituency_code=r.constituency_code,
            handles={network: handle for network in Network if (handle := r.handle(network))},
            context=target_context(r, campaign.language),
        )
        for r in rows
    }
    deputies: dict[str, list[int]] = {}
    for r in rows:
        if r.role is TargetRole.DEPUTY and r.constituency_code:
            deputies.setdefault(r.constituency_code, []).append(r.id)
    variants = [
        PageVariant(
            id=v.id,
            message_id=v.message_id,
            templates={network: v.template_for(network) for network in Network},
            email_subject=v.message.email_subject,
        )
        for v in db.session.scalars(
            select(Variant)
            .join(Message, Message.id == Variant.message_id)
            .where(Message.campaign_id == campaign.id, Variant.is_active.is_(True))
            .order_by(Variant.id)
        )
    ]
    waves = []
    for wave in db.session.scalars(
        select(Wave).where(Wave.campaign_id == campaign.id, Wave.status.in_(LIVE_STATES), Wave.closes_at > now)
    ):
        members = tuple(
            db.session.scalars(
                select(WaveTarget.recipient_id).where(WaveTarget.wave_id == wave.id).order_by(WaveTarget.position)
            )
        )
        waves.append(
            PageWave(
                id=wave.id,
                title=wave.title,
                status=wave.status,
                opens_at=wave.opens_at,
                closes_at=wave.closes_at,
                message_ids=tuple(wave.message_ids or ()),
                networks=tuple(wave.networks or ()),
                cap_per_hour=wave.cap_per_hour,
                targets=members,
                members=frozenset(members),
            )
        )
    has_map = exists(select(PostcodeArea.postcode).where(PostcodeArea.organisation_id == campaign.organisation_id))
    postcode_mode = bool(deputies) and bool(db.session.scalar(select(has_map)))
    return Snapshot(
        id=campaign.id,
        version=campaign.version,
        slug=campaign.slug,
        title=campaign.title,
        cause=campaign.cause,
        status=campaign.status,
        language=campaign.language,
        organisation_id=campaign.organisation_id,
        hashtags=campaign.hashtags,
        link=campaign.link,
        enabled_networks=campaign.enabled_networks,
        targets=targets,
        variants=variants,
        waves=waves,
        postcode_mode=postcode_mode,
        built_at=time.monotonic(),
        deputies=deputies,
        privacy_slug=db.session.scalar(select(Organisation.slug).where(Organisation.id == campaign.organisation_id))
        or "",
    )


@dataclass(frozen=True)
class TargetCounts:
    """Each target's messages so far and the variant it got last (as folded), read at `read_at`."""

    counts: dict[int, int]
    last_variant: dict[int, int | None]
    read_at: float


class PageCache:
    """The application's snapshots, counts and caps, by campaign (or wave). Safe across threads: a value is
    replaced whole, never changed in place, and two threads building the same one at once both succeed."""

    def __init__(self, shared: SharedClicks | None = None) -> None:
        self.shared = shared
        self._snapshots: dict[int, Snapshot] = {}
        self._counts: dict[int, TargetCounts] = {}
        self._caps: dict[int, tuple[float, frozenset[int]]] = {}
        self._headings: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.builds = 0  # how many snapshots were built (tests and benches read it)

    def snapshot(self, campaign_id: int, version: int, now: datetime) -> Snapshot:
        found = self._snapshots.get(campaign_id)
        if found is not None and found.version == version and time.monotonic() - found.built_at < SNAPSHOT_MAX_AGE:
            return found
        campaign = db.session.get_one(Campaign, campaign_id)
        built = build(campaign, now)
        with self._lock:
            self._snapshots[campaign_id] = built
            self.builds += 1
        return built

    def heading(self, slug: str, max_age: float) -> Any:
        """The campaign row behind a slug (id, version, status, organisation, language), if read within
        `max_age` seconds; None to read it again."""
        found = self._headings.get(slug)
        if found is None or time.monotonic() - found[0] >= max_age:
            return None
        return found[1]

    def keep_heading(self, slug: str, row: Any) -> None:
        self._headings[slug] = (time.monotonic(), row)

    def counts(self, campaign_id: int) -> TargetCounts:
        """The folded counts (read at most once a second), with the clicks every node made since (shared)."""
        folded = self._folded(campaign_id)
        if self.shared is None:
            return folded
        recent = self.shared.recent(campaign_id)
        if not recent:
            return folded
        counts = dict(folded.counts)
        for recipient_id, count in recent.items():
            counts[recipient_id] = counts.get(recipient_id, 0) + count
        return TargetCounts(counts, folded.last_variant, folded.read_at)

    def _folded(self, campaign_id: int) -> TargetCounts:
        found = self._counts.get(campaign_id)
        if found is not None and time.monotonic() - found.read_at < COUNTS_MAX_AGE:
            return found
        rows = db.session.execute(
            select(CampaignTarget.recipient_id, CampaignTarget.action_count, CampaignTarget.last_variant_id).where(
                CampaignTarget.campaign_id == campaign_id
            )
        ).all()
        fresh = TargetCounts(
            counts={rid: count for rid, count, _ in rows},
            last_variant={rid: variant for rid, _, variant in rows},
            read_at=time.monotonic(),
        )
        self._counts[campaign_id] = fresh
        return fresh

    def add_click(self, campaign_id: int, recipient_id: int, variant_id: int | None) -> None:
        """Count a click at once: for every node (shared), else for this process (the fold makes it
        everyone's within a second)."""
        found = self._counts.get(campaign_id)
        if found is None:
            return
        if self.shared is not None and self.shared.add(campaign_id, recipient_id):
            self._counts[campaign_id] = TargetCounts(
                found.counts, {**found.last_variant, recipient_id: variant_id}, found.read_at
            )
            return
        counts = dict(found.counts)
        counts[recipient_id] = counts.get(recipient_id, 0) + 1
        self._counts[campaign_id] = TargetCounts(
            counts, {**found.last_variant, recipient_id: variant_id}, found.read_at
        )

    def capped(self, wave: PageWave, now: datetime) -> frozenset[int]:
        """The wave's targets at their hourly cap, read at most once a second."""
        found = self._caps.get(wave.id)
        if found is not None and time.monotonic() - found[0] < COUNTS_MAX_AGE:
            return found[1]
        members = select(WaveTarget.recipient_id).where(WaveTarget.wave_id == wave.id)
        full = frozenset(
            rid for rid, count in recent_counts(None, now, subquery=members).items() if count >= wave.cap_per_hour
        )
        self._caps[wave.id] = (time.monotonic(), full)
        return full

    def clear(self) -> None:
        with self._lock:
            self._snapshots.clear()
            self._counts.clear()
            self._caps.clear()
            self._headings.clear()


def page_cache(app: Flask | None = None) -> PageCache:
    return (app or current_app).extensions["porte_voix_pages"]


def init_app(app: Flask) -> None:
    url = app.config.get("PAGE_COUNTS_URL") or ""
    app.extensions["porte_voix_pages"] = PageCache(SharedClicks(url) if url else None)
