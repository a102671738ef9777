"""Posts through connected accounts: queued on the supporter's click, delivered by the outbox.

The only way a post is queued is `queue_post`, called by the page on the supporter's own click with
the exact text they saw and approved; the consent row records that text.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from channels import check_length
from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind, rate_limited
from extensions import db
from scheduler.models import Delivery
from scheduler.outbox import enqueue
from supporters.models import AccountState, ConsentKind, SocialAccount
from supporters.networks import client_of
from supporters.services import credentials, log_consent, note_rate

logger = logging.getLogger(__name__)
KIND = "post"
FOLLOWERS_MAX_AGE = timedelta(hours=24)


class PostRefused(ValueError):
    """The text cannot be queued as it is (too long, empty, account to reconnect); the message says why."""


def length_problem(account: SocialAccount, text: str) -> str | None:
    """Why the network would refuse this text's length, by its own rule; None when it fits."""
    if not text.strip():
        return "empty"
    measured = check_length(account.network, text, limit=account.char_limit)
    return None if measured.ok else f"{measured.length}/{measured.limit}"


def queue_post(account: SocialAccount, text: str, *, language: str = "", now: datetime | None = None) -> Delivery:
    """Queue `text` for the account on the supporter's click, and log their consent to that exact text.

    Raises PostRefused when the account must be reconnected or the text does not fit. Flushes.
    """
    if account.state is not AccountState.CONNECTED:
        raise PostRefused("reconnect")
    problem = length_problem(account, text)
    if problem:
        raise PostRefused(problem)
    delivery = enqueue(
        kind=KIND,
        account_id=account.id,
        network=account.network,
        text=text,
        idempotency_key=client_of(account).new_key(now),
        language=language,
        now=now,
    )
    log_consent(account, ConsentKind.POST, text=text, now=now)
    db.session.flush()
    return delivery


def load_accounts(deliveries: list[Delivery]) -> list[SocialAccount]:
    """The outbox's loader: a batch's accounts in one query (`deliver_post` then finds them in the session)."""
    ids = {d.account_id for d in deliveries if d.account_id}
    return list(db.session.scalars(select(SocialAccount).where(SocialAccount.id.in_(ids)))) if ids else []


def deliver_post(delivery: Delivery, now: datetime) -> PostResult:
    """The outbox handler: post the delivery's text through its account. Raises ChannelError.

    What it learns of the account (its budget at the network, that it must be reconnected) is left in the
    session for the outbox to commit with the delivery's outcome; only a token refresh commits on its own.
    """
    account = db.session.get(SocialAccount, delivery.account_id) if delivery.account_id else None
    if account is None:
        raise ChannelError(ErrorKind.AUTH_EXPIRED, "the account was disconnected")
    if account.state is not AccountState.CONNECTED:
        raise ChannelError(ErrorKind.AUTH_EXPIRED, "the account must be reconnected")
    if account.rate_remaining == 0 and account.rate_reset_at and account.rate_reset_at > now:
        raise rate_limited(account.rate_reset_at, "the account's budget at the network is spent")
    api = client_of(account)

    def post(secrets: dict[str, object]) -> PostResult:
        retry = delivery.attempts > 1
        return api.post(secrets, delivery.text, key=delivery.idempotency_key, language=delivery.language, retry=retry)

    try:
        result = post(credentials(account, now))
    except ChannelError as error:
        if error.kind is ErrorKind.AUTH_EXPIRED and api.rotates:
            # Refused before its time (revoked? clock skew?): one refresh, one more try.
            result = post(credentials(account, now, force_refresh=True))
        else:
            if error.kind is ErrorKind.RATE_LIMITED:
                account.rate_remaining, account.rate_reset_at = 0, error.retry_at
            elif error.kind is ErrorKind.AUTH_EXPIRED:
                account.state = AccountState.NEEDS_RECONNECT
            raise
    note_rate(account, result.rate)
    return result


def refresh_followers(now: datetime) -> int:
    """Read the follower counts of accounts not read for a day. Safe to repeat: it only overwrites counts.

    A network that refuses or limits us leaves the old count, to try again on the next run.
    """
    stale = db.session.scalars(
        select(SocialAccount)
        .where(
            SocialAccount.state == AccountState.CONNECTED,
            or_(SocialAccount.followers_at.is_(None), SocialAccount.followers_at < now - FOLLOWERS_MAX_AGE),
        )
        .limit(100)
    ).all()
    done = 0
    for account in stale:
        try:
            profile = client_of(account).profile(credentials(account, now))
        except ChannelError as error:
            logger.info("followers of account %s not read: %s", account.id, error)
            account.followers_at = now - FOLLOWERS_MAX_AGE + timedelta(hours=1)  # back off an hour
            continue
        account.followers, account.followers_at = profile.followers, now
        done += 1
    db.session.commit()
    return done
