"""The scheduled refresh of the posts we know: likes, reposts, replies, quotes, and the targets' answers.

Each run reads the posts whose turn has come, in batches the networks allow (X 100 ids a call, Bluesky
25, Mastodon one status a call), and sets each row's next turn by the post's age: hourly on its first
day, every six hours in its first week, daily to a month, then never. A network that limits us moves
its rows to the reset it announced; an expired token moves the account's rows a day on. Nothing is
retried at once. Safe to run twice: it only overwrites counts and adds replies under a unique key.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from analytics.models import PostReply
from campaign.tallies import PostMetric
from channels import Network, bluesky, mastodon, normalise_handle
from channels.api import PostMetrics, Reply
from channels.errors import ChannelError, ErrorKind
from database import upsert
from extensions import db
from recipients.models import Recipient
from scheduler.models import Delivery
from supporters.models import AccountState, SocialAccount
from supporters.networks import client_of, endpoint
from supporters.services import credentials

logger = logging.getLogger(__name__)
BATCH = 200  # rows a run reads at the most
STOP_AFTER = timedelta(days=30)
BATCH_SIZES = {Network.X: 100, Network.BLUESKY: 25, Network.MASTODON: 1}

# What the dashboard says of a row whose last refresh failed (translated there).
RATE_LIMITED, RECONNECT, UNAVAILABLE, GONE = "rate_limited", "reconnect", "unavailable", "gone"


def next_turn(posted_at: datetime, now: datetime) -> datetime:
    age = now - posted_at
    if age < timedelta(days=1):
        return now + timedelta(hours=1)
    if age < timedelta(days=7):
        return now + timedelta(hours=6)
    if age < STOP_AFTER:
        return now + timedelta(days=1)
    return posted_at + timedelta(days=3650)  # done: a month-old post's counts no longer move much


def refresh_post_metrics(now: datetime) -> int:
    """Refresh the counts of the posts whose turn has come; returns how many were read."""
    due = db.session.execute(
        select(PostMetric, Delivery.remote_id, SocialAccount)
        .join(Delivery, Delivery.id == PostMetric.delivery_id)
        .join(SocialAccount, SocialAccount.id == Delivery.account_id)
        .where(PostMetric.next_fetch_at <= now)
        .order_by(PostMetric.next_fetch_at)
        .limit(BATCH)
    ).all()
    groups: defaultdict[tuple[Network, int], list[tuple[PostMetric, str]]] = defaultdict(list)
    accounts: dict[int, SocialAccount] = {}
    for metric, remote_id, account in due:
        accounts[account.id] = account
        groups[(account.network, account.id)].append((metric, remote_id))
    blocked: dict[Network, datetime] = {}  # a network that limited us this run is not asked again in it
    read = 0
    for (network, account_id), rows in groups.items():
        account = accounts[account_id]
        if network in blocked:
            _hold(rows, blocked[network], RATE_LIMITED)
            continue
        if account.state is AccountState.NEEDS_RECONNECT:
            _hold(rows, now + timedelta(days=1), RECONNECT)
            continue
        size = BATCH_SIZES[network]
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            try:
                found = {m.remote_id: m for m in _read(account, [remote_id for _, remote_id in batch], now)}
            except ChannelError as error:
                wait, reason = _back_off(error, now)
                if error.kind is ErrorKind.RATE_LIMITED:
                    blocked[network] = wait
                _hold(rows[start:], wait, reason)
                logger.info("metrics of %s posts on %s not read: %s", len(rows) - start, network.value, error)
                break
            for metric, remote_id in batch:
                counts = found.get(remote_id)
                if counts is None:  # deleted, or no longer visible
                    _hold([(metric, remote_id)], next_turn(metric.posted_at, now), GONE)
                    continue
                new_replies = counts.replies > metric.replies
                metric.likes, metric.reposts = counts.likes, counts.reposts
                metric.replies, metric.quotes = counts.replies, counts.quotes
                metric.fetched_at, metric.error = now, ""
                metric.next_fetch_at = next_turn(metric.posted_at, now)
                read += 1
                if new_replies and network is not Network.X:
                    _record_answers(account, metric, remote_id, now)
        # Each account's counts kept before the next account's tokens are refreshed (in a transaction of
        # their own, which on SQLite must not wait behind this one).
        db.session.commit()
    db.session.commit()
    return read


def _key(account: SocialAccount, remote_id: str) -> str:
    return bluesky.at_uri(account.remote_id, remote_id) if account.network is Network.BLUESKY else remote_id


def _read(account: SocialAccount, remote_ids: list[str], now: datetime) -> list[PostMetrics]:
    api = client_of(account)
    return api.metrics({} if api.public_metrics else credentials(account, now), remote_ids)


def _back_off(error: ChannelError, now: datetime) -> tuple[datetime, str]:
    if error.kind is ErrorKind.RATE_LIMITED:
        return max(error.retry_at or now, now + timedelta(minutes=1)) + timedelta(seconds=30), RATE_LIMITED
    if error.kind in (ErrorKind.AUTH_EXPIRED, ErrorKind.AUTH_FAILED):
        return now + timedelta(days=1), RECONNECT
    return now + timedelta(minutes=30), UNAVAILABLE


def _hold(rows: list[tuple[PostMetric, str]], until: datetime, reason: str) -> None:
    for metric, _ in rows:
        metric.next_fetch_at, metric.error = until, reason


def _record_answers(account: SocialAccount, metric: PostMetric, remote_id: str, now: datetime) -> None:
    """Keep the replies the target's own account made to this post (others' replies are not ours to keep)."""
    target = db.session.get(Recipient, metric.recipient_id)
    handle = (
        (target.handle_bluesky if account.network is Network.BLUESKY else target.handle_mastodon) if target else None
    )
    if not handle:
        return
    try:
        ep = endpoint(account.network)
        if account.network is Network.BLUESKY:
            found = bluesky.replies(ep, _key(account, remote_id))
        else:
            found = mastodon.replies(ep, account.instance, str(credentials(account, now)["access"]), remote_id)
    except ChannelError as error:
        logger.info("replies to delivery %s not read: %s", metric.delivery_id, error)
        return
    for reply in found:
        if _same_account(account.network, reply, handle):
            upsert(
                db.session,
                PostReply,
                {"network": account.network, "remote_id": reply.remote_id},
                values={
                    "delivery_id": metric.delivery_id,
                    "campaign_id": metric.campaign_id,
                    "wave_id": metric.wave_id,
                    "recipient_id": metric.recipient_id,
                    "url": reply.url,
                    "text": reply.text[:2000],
                    "replied_at": reply.created_at,
                    "found_at": now,
                },
            )


def _same_account(network: Network, reply: Reply, handle: str) -> bool:
    """Whether the reply is the target's own. On Mastodon the supporter's server tells us who wrote it, and a
    server of one's own can say anything: the reply must also live at the target's own server (its link's
    host is the domain of the target's address)."""
    try:
        same = normalise_handle(network, reply.author) == normalise_handle(network, handle)
    except ValueError:
        return False
    if same and network is Network.MASTODON:
        domain = normalise_handle(network, handle).rsplit("@", 1)[-1]
        host = (urlsplit(reply.url).hostname or "").lower()
        return host == domain or host.endswith("." + domain)
    return same
