"""Pledged posts: a connected supporter approves an exact text for a wave; the scheduler releases it in the
window, spread with jitter, under the per-target cap, through the same outbox as a click.

Never on X (its rules forbid scheduled and coordinated posts): the model, the form, this module and the
outbox handler each refuse it. No two pledges on one target carry near-identical texts (`similarity`).
"""

from __future__ import annotations

import logging
import random
import re
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from campaign.actions import record_action
from campaign.appended import CAP_WINDOW, recent_counts
from campaign.labels import ACCOUNT_GONE, WITHDRAWN
from campaign.models import ActionMode, Campaign, CampaignStatus, Wave, WaveStatus, WaveTarget
from campaign.rendering import mentions
from channels import Network, bluesky, mention
from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from database import changed
from extensions import db
from recipients.models import Recipient
from scheduler.models import Delivery
from scheduler.outbox import enqueue
from supporters.models import AccountState, ConsentKind, SocialAccount
from supporters.posting import deliver_post, length_problem
from supporters.services import log_consent
from waves.models import PLEDGE, PLEDGE_NETWORKS, Pledge, PledgeState

logger = logging.getLogger(__name__)

SIMILAR = 0.6  # word-pair overlap at or above which two texts count as the same message
RELEASE_BATCH = 500
_WORD = re.compile(r"(?:https?://\S+|[@#]\S+)|(\w+)", re.UNICODE)


class PledgeRefused(ValueError):
    """The pledge cannot be taken; the message says why, for the supporter."""


def _pairs(text: str) -> set[tuple[str, ...]]:
    """Consecutive word pairs, links, mentions and hashtags left out (every pledge to a target shares them)."""
    words = [m.group(1).casefold() for m in _WORD.finditer(text) if m.group(1)]
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i : i + 2]) for i in range(len(words) - 1)}


def similarity(first: str, second: str) -> float:
    """How much two texts say in the same words: the Jaccard index of their word pairs (0 to 1)."""
    a, b = _pairs(first), _pairs(second)
    return len(a & b) / len(a | b) if a and b else 0.0


def too_similar(wave: Wave, recipient_id: int, text: str) -> bool:
    """Whether another live pledge to this target in this wave says nearly the same thing."""
    others = db.session.scalars(
        select(Pledge.text).where(
            Pledge.wave_id == wave.id,
            Pledge.recipient_id == recipient_id,
            Pledge.state != PledgeState.CANCELLED,
        )
    )
    return any(similarity(text, other) >= SIMILAR for other in others)


def check_pledge(wave: Wave, account: SocialAccount, recipient_id: int, text: str, now: datetime) -> None:
    """Every reason to refuse a pledge, in the supporter's words. Raises PledgeRefused."""
    if account.network.value not in PLEDGE_NETWORKS:
        raise PledgeRefused(_("Pledged posts go out on Bluesky and Mastodon only, never on X."))
    if wave.status not in (WaveStatus.SCHEDULED, WaveStatus.OPEN) or wave.closes_at <= now:
        raise PledgeRefused(_("This wave is over: it takes no more pledges."))
    if account.network.value not in wave.networks:
        raise PledgeRefused(_("This wave does not go out on this network."))
    if account.state is AccountState.NEEDS_RECONNECT:
        raise PledgeRefused(_("Reconnect your account first."))
    if db.session.get(WaveTarget, (wave.id, recipient_id)) is None:
        raise PledgeRefused(_("This target is not part of the wave."))
    recipient = db.session.get(Recipient, recipient_id)
    handle = recipient.handle(account.network) if recipient else None
    if recipient is None or not handle:
        raise PledgeRefused(
            _("This target has no %(network)s account: pledge on another network.", network=account.network.label)
        )
    if text.strip() and not mentions(account.network, handle, text):
        raise PledgeRefused(
            _(
                "Keep %(handle)s in the message: without the mention, they will not see it.",
                handle=mention(account.network, handle),
            )
        )
    problem = length_problem(account, text)
    if problem == "empty":
        raise PledgeRefused(_("The text is empty."))
    if problem:
        raise PledgeRefused(_("The text is too long for this network (%(measure)s).", measure=problem))
    already = db.session.scalar(
        select(Pledge.id).where(
            Pledge.wave_id == wave.id,
            Pledge.account_id == account.id,
            Pledge.recipient_id == recipient_id,
            Pledge.state != PledgeState.CANCELLED,
        )
    )
    if already:
        raise PledgeRefused(_("You already pledged a post to this target in this wave."))
    if too_similar(wave, recipient_id, text):
        raise PledgeRefused(
            _("Another supporter pledged nearly the same text to this target: put it in your own words.")
        )


def make_pledge(
    wave: Wave, account: SocialAccount, *, recipient_id: int, variant_id: int | None, text: str, now: datetime
) -> Pledge:
    """Record the approved text and the supporter's consent; released when the wave is open. Flushes."""
    check_pledge(wave, account, recipient_id, text, now)
    pledge = Pledge(
        wave_id=wave.id,
        supporter_id=account.supporter_id,
        account_id=account.id,
        network=account.network,
        recipient_id=recipient_id,
        variant_id=variant_id,
        text=text,
        created_at=now,
    )
    db.session.add(pledge)
    log_consent(account, ConsentKind.PLEDGE, text=text, now=now)
    db.session.flush()
    if wave.status is WaveStatus.OPEN:
        schedule_releases(wave, now)
    return pledge


def schedule_releases(wave: Wave, now: datetime, rng: random.Random | None = None) -> int:
    """Give each unscheduled pledge of the wave a release time: per target, spread evenly over what is left
    of the window, never closer than the cap allows, each with jitter inside its slot. Flushes.
    """
    rng = rng or random.Random()  # noqa: S311 (spreading posts, not a secret)
    waiting = db.session.scalars(
        select(Pledge)
        .where(Pledge.wave_id == wave.id, Pledge.state == PledgeState.PLEDGED, Pledge.release_at.is_(None))
        .order_by(Pledge.recipient_id, Pledge.id)
    ).all()
    by_target: dict[int, list[Pledge]] = {}
    for pledge in waiting:
        by_target.setdefault(pledge.recipient_id, []).append(pledge)
    latest = dict(
        db.session.execute(
            select(Pledge.recipient_id, func.max(Pledge.release_at))
            .where(Pledge.wave_id == wave.id, Pledge.recipient_id.in_(list(by_target)), Pledge.release_at.is_not(None))
            .group_by(Pledge.recipient_id)
        )
        .tuples()
        .all()
    )
    min_gap = CAP_WINDOW.total_seconds() / wave.cap_per_hour
    for recipient_id, pledges in by_target.items():
        start = max(now, wave.opens_at)
        previous = latest.get(recipient_id)
        if previous is not None:
            start = max(start, previous + timedelta(seconds=min_gap))
        room = max(0.0, (wave.closes_at - start).total_seconds())
        slot = max(min_gap, room / len(pledges))
        for n, pledge in enumerate(pledges):
            pledge.release_at = start + timedelta(seconds=slot * (n + rng.uniform(0, 0.8)))
    db.session.flush()
    return len(waiting)


def withdraw_pledge(pledge: Pledge) -> bool:
    """The supporter takes a pledge back while it waits. False once it is released (the post is out or on its
    way): the same conditional UPDATE as the release, so the two never both win."""
    return bool(
        changed(
            db.session.execute(
                update(Pledge)
                .where(Pledge.id == pledge.id, Pledge.state == PledgeState.PLEDGED)
                .values(state=PledgeState.CANCELLED, reason=WITHDRAWN)
                .execution_options(synchronize_session=False)
            )
        )
    )


def release_due_pledges(now: datetime) -> int:
    """The scheduler's job: hand due pledges of open waves to the outbox, as pledge actions.

    A pledge over its target's cap waits for the next slot; its account gone, it is cancelled. Safe twice
    or concurrently: PLEDGED → RELEASED is a conditional UPDATE in the same transaction as the delivery.
    """
    due = db.session.execute(
        select(Pledge, Wave)
        .join(Wave, Wave.id == Pledge.wave_id)
        .join(Campaign, Campaign.id == Wave.campaign_id)
        .where(
            Pledge.state == PledgeState.PLEDGED,
            Pledge.release_at <= now,
            Wave.status == WaveStatus.OPEN,
            Wave.closes_at > now,
            Campaign.status == CampaignStatus.LIVE,
        )
        .order_by(Pledge.release_at)
        .limit(RELEASE_BATCH)
    ).all()
    counts = recent_counts({pledge.recipient_id for pledge, _wave in due}, now)
    released = 0
    for pledge, wave in due:
        if counts.get(pledge.recipient_id, 0) >= wave.cap_per_hour:
            pledge.release_at = now + timedelta(seconds=CAP_WINDOW.total_seconds() / wave.cap_per_hour)
            continue
        account = db.session.get(SocialAccount, pledge.account_id) if pledge.account_id else None
        if account is None:
            pledge.state, pledge.reason = PledgeState.CANCELLED, ACCOUNT_GONE
            continue
        if _release(pledge, wave, account, now):
            counts[pledge.recipient_id] = counts.get(pledge.recipient_id, 0) + 1
            released += 1
    db.session.commit()
    return released


def _release(pledge: Pledge, wave: Wave, account: SocialAccount, now: datetime) -> bool:
    if pledge.network is Network.X:  # the model refuses it; this is the engine's own word
        raise ChannelError(ErrorKind.REJECTED, "pledged posts never go out on X")
    moved = changed(
        db.session.execute(
            update(Pledge)
            .where(Pledge.id == pledge.id, Pledge.state == PledgeState.PLEDGED)
            .values(state=PledgeState.RELEASED, released_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if not moved:
        return False
    key = bluesky.new_record_key(now, serial=pledge.id) if pledge.network is Network.BLUESKY else f"pledge-{pledge.id}"
    delivery = enqueue(
        kind=PLEDGE,
        account_id=account.id,
        network=pledge.network,
        text=pledge.text,
        idempotency_key=key,
        ref_id=pledge.id,
        now=now,
    )
    pledge.delivery_id = delivery.id
    record_action(
        db.session.get_one(Campaign, wave.campaign_id),
        recipient_id=pledge.recipient_id,
        variant_id=pledge.variant_id,
        network=pledge.network,
        visitor_id=f"supporter-{pledge.supporter_id}",
        text=pledge.text,
        mode=ActionMode.PLEDGE,
        delivery_id=delivery.id,
        wave_id=wave.id,
        now=now,
    )
    return True


def load_pledges(deliveries: list[Delivery]) -> list[object]:
    """The outbox's loader: a batch's pledges, their waves and accounts in one query."""
    ids = [d.ref_id for d in deliveries if d.ref_id]
    if not ids:
        return []
    rows = db.session.execute(
        select(Pledge, Wave, SocialAccount)
        .join(Wave, Wave.id == Pledge.wave_id)
        .outerjoin(SocialAccount, SocialAccount.id == Pledge.account_id)
        .where(Pledge.id.in_(ids))
    ).all()
    return [item for row in rows for item in row if item is not None]


def deliver_pledge(delivery: Delivery, now: datetime) -> PostResult:
    """The outbox handler: post a released pledge, unless its wave was cancelled. Never on X."""
    if delivery.network is Network.X or delivery.network.value not in PLEDGE_NETWORKS:
        raise ChannelError(ErrorKind.REJECTED, "pledged posts never go out on X")
    pledge = db.session.get(Pledge, delivery.ref_id) if delivery.ref_id else None
    wave = db.session.get(Wave, pledge.wave_id) if pledge else None
    if wave is None or wave.status is WaveStatus.CANCELLED:
        raise ChannelError(ErrorKind.REJECTED, "the wave was cancelled")
    return deliver_post(delivery, now)
