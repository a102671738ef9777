"""Confirming compose-link posts: a supporter who gave their handle has their post looked up on the
network's public timeline a few minutes later (Bluesky and Mastodon let anyone read them; X does not).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select

from campaign.models import Action, ActionMode
from campaign.tallies import count_confirmed
from channels import Network, bluesky, mastodon
from channels.api import PublicPost
from channels.errors import ChannelError
from extensions import db
from supporters.networks import endpoint

logger = logging.getLogger(__name__)
CONFIRMABLE = (Network.BLUESKY, Network.MASTODON)
FIRST_LOOK = timedelta(minutes=2)  # a person takes a moment to press "post"
GIVE_UP = timedelta(hours=24)
LOOK_EVERY = timedelta(minutes=5)
SIMILAR = 0.6  # share of the sent text's words found in the post (supporters may edit a little)
_WORD = re.compile(r"[\w@.#/:-]+", re.UNICODE)


def _words(text: str) -> set[str]:
    return {w.strip(".,:;!?").casefold() for w in _WORD.findall(text) if len(w.strip(".,:;!?")) > 1}


def _mention_forms(mention: str) -> set[str]:
    """How a mention can read in a post: Mastodon shows `@user@domain` as `@user` in the HTML it serves."""
    user, _, domain = mention[1:].partition("@")
    return {mention, "@" + user} if domain else {mention}


def matches(sent: str, posted: str) -> bool:
    """Whether `posted` is the supporter's post of `sent`: every mention it had, and most of its words."""
    want, have = _words(sent), _words(posted)
    if not want:
        return False
    if any(not _mention_forms(word) & have for word in want if word.startswith("@")):
        return False
    return len(want & have) / len(want) >= SIMILAR


def _read(network: Network, handle: str) -> list[PublicPost]:
    if network is Network.BLUESKY:
        return bluesky.recent_posts(endpoint(network), handle)
    return mastodon.recent_posts(endpoint(network), handle)


def confirm_link_posts(now: datetime) -> int:
    """Mark confirmed the link actions found on their authors' timelines; returns how many.

    One timeline read per author and network per run. Safe to repeat: it only sets `confirmed_at`
    on actions that have none, and a network that fails is asked again after LOOK_EVERY.
    """
    pending = db.session.scalars(
        select(Action)
        .where(
            Action.mode == ActionMode.LINK,
            Action.network.in_(CONFIRMABLE),
            Action.author_handle.is_not(None),
            Action.confirmed_at.is_(None),
            Action.created_at <= now - FIRST_LOOK,
            Action.created_at >= now - GIVE_UP,
            (Action.confirm_checked_at.is_(None)) | (Action.confirm_checked_at <= now - LOOK_EVERY),
        )
        .order_by(Action.created_at)
        .limit(500)
    ).all()
    by_author: defaultdict[tuple[Network, str], list[Action]] = defaultdict(list)
    for action in pending:
        by_author[(action.network, action.author_handle or "")].append(action)
    confirmed = 0
    for (network, handle), actions in by_author.items():
        try:
            posts = _read(network, handle)
        except ChannelError as error:
            logger.info("confirm: %s on %s not read (%s)", handle, network.value, error)
            posts = []
        taken: set[str] = set()
        for action in actions:
            action.confirm_checked_at = now
            for post in posts:
                recent = post.created_at is None or post.created_at >= action.created_at - timedelta(minutes=1)
                if post.remote_id not in taken and recent and matches(action.text, post.text):
                    action.confirmed_at, action.confirmed_url = now, post.url
                    count_confirmed(action)
                    taken.add(post.remote_id)
                    confirmed += 1
                    break
    db.session.commit()
    return confirmed
