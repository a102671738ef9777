"""Connected accounts: connect, open and refresh their tokens, disconnect (revoking at the network).

Tokens are sealed before they reach a column and opened only here; the network is reached through the
account's client (`supporters.networks.client_of`). Refresh tokens of X and Bluesky rotate and are
single-use, so a refresh runs under a lock (a row lock on PostgreSQL, and a process lock for the
threads of one process) in a transaction of its own, committed at once: a new token lost is an account
locked out, and the caller's transaction (the outbox's, say) stays the caller's to commit.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from channels import Network, mastodon
from channels.api import Profile
from channels.errors import ChannelError, ErrorKind, RateState
from database import utcnow
from extensions import db
from scheduler.outbox import cancel_for_account
from supporters.models import AccountState, Consent, ConsentKind, MastodonApp, SocialAccount, Supporter
from supporters.networks import client_of, endpoint, kept_mastodon_app, token_box

logger = logging.getLogger(__name__)
REFRESH_MARGIN = timedelta(minutes=5)  # refresh an access token this long before it expires
_refresh_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


def get_or_create_supporter(supporter_id: int | None, *, language: str) -> Supporter:
    supporter = db.session.get(Supporter, supporter_id) if supporter_id else None
    if supporter is None:
        supporter = Supporter(language=language)
        db.session.add(supporter)
        db.session.flush()
    return supporter


def accounts_of(supporter_id: int | None) -> dict[Network, SocialAccount]:
    if not supporter_id:
        return {}
    rows = db.session.scalars(select(SocialAccount).where(SocialAccount.supporter_id == supporter_id))
    return {account.network: account for account in rows}


def seal(secrets: dict[str, Any]) -> str:
    return token_box().seal(json.dumps(secrets))


def open_tokens(account: SocialAccount) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(token_box().open(account.sealed_tokens))
    return opened


def _stamp(when: datetime | None) -> float | None:
    return when.timestamp() if when else None


def connect(
    supporter: Supporter,
    network: Network,
    profile: Profile,
    secrets: dict[str, Any],
    *,
    instance: str = "",
    expires_at: datetime | None = None,
    char_limit: int | None = None,
) -> SocialAccount:
    """Keep the account and log the consent. A previous account on that network is replaced, and the grant it
    held is revoked at the network (best effort: we forget its tokens either way).
    """
    account = db.session.scalar(
        select(SocialAccount).where(SocialAccount.supporter_id == supporter.id, SocialAccount.network == network)
    )
    now = utcnow()
    if account is not None:
        revoke_quietly(account)
    else:
        account = SocialAccount(supporter_id=supporter.id, network=network)
        db.session.add(account)
    account.instance, account.remote_id, account.handle = instance, profile.remote_id, profile.handle
    account.display_name = profile.display_name[:200]
    account.followers, account.followers_at = profile.followers, now
    account.sealed_tokens, account.token_expires_at, account.char_limit = seal(secrets), expires_at, char_limit
    account.state, account.connected_at = AccountState.CONNECTED, now
    account.rate_remaining = account.rate_reset_at = None
    db.session.flush()
    db.session.add(
        Consent(
            supporter_id=supporter.id,
            account_id=account.id,
            network=network,
            handle=profile.handle,
            kind=ConsentKind.CONNECT,
        )
    )
    db.session.flush()
    return account


def mastodon_app(instance: str, *, redirect_uri: str) -> mastodon.MastodonApp:
    """Our app on `instance`: the one kept, unless the instance forgot it or our address changed."""
    ep = endpoint(Network.MASTODON)
    kept = db.session.scalar(select(MastodonApp).where(MastodonApp.instance == instance))
    if kept is not None and kept.redirect_uri == redirect_uri:
        app = kept_mastodon_app(instance)
        if app is not None and mastodon.app_is_known(ep, app):
            return app
        logger.info("mastodon: %s forgot our app; registering again", instance)
    app = mastodon.register_app(ep, instance, redirect_uri=redirect_uri)
    if kept is None:
        kept = MastodonApp(instance=instance)
        db.session.add(kept)
    kept.redirect_uri, kept.client_id, kept.sealed_secret = (
        redirect_uri,
        app.client_id,
        token_box().seal(app.client_secret),
    )
    db.session.flush()
    return app


def forget_mastodon_app(instance: str) -> None:
    """The instance answered `invalid_client`: register afresh next time."""
    kept = db.session.scalar(select(MastodonApp).where(MastodonApp.instance == instance))
    if kept is not None:
        db.session.delete(kept)
        db.session.flush()


def needs_refresh(account: SocialAccount, now: datetime) -> bool:
    return account.token_expires_at is not None and account.token_expires_at <= now + REFRESH_MARGIN


def credentials(account: SocialAccount, now: datetime, *, force_refresh: bool = False) -> dict[str, Any]:
    """The account's opened tokens, refreshed first when they expire soon (or the network refused them).

    Raises ChannelError(AUTH_EXPIRED) and marks the account for reconnection when refresh fails. A refresh
    commits in a transaction of its own (see the module's docstring); `account` is brought up to date
    without being marked changed, and nothing of the caller's session is flushed or committed.
    """
    api = client_of(account)
    if not api.rotates or not (force_refresh or needs_refresh(account, now)):
        return open_tokens(account)
    with _refresh_locks[account.id], Session(db.engine, expire_on_commit=False) as own:
        locked = own.get(SocialAccount, account.id, with_for_update=True)  # waits for another process's refresh
        if locked is None:
            raise ChannelError(ErrorKind.AUTH_EXPIRED, "the account was disconnected")
        try:
            if locked.sealed_tokens != account.sealed_tokens and not needs_refresh(locked, now):
                return open_tokens(locked)  # another worker refreshed while we waited
            try:
                grant = api.refresh(open_tokens(locked))
            except ChannelError as error:
                if error.kind is ErrorKind.AUTH_EXPIRED:
                    locked.state = AccountState.NEEDS_RECONNECT
                    own.commit()
                raise
            locked.sealed_tokens, locked.token_expires_at = seal(grant.secrets), grant.expires_at
            locked.state = AccountState.CONNECTED
            own.commit()
            return grant.secrets
        finally:
            for name in ("sealed_tokens", "token_expires_at", "state"):
                set_committed_value(account, name, getattr(locked, name))


def note_rate(account: SocialAccount, rate: RateState | None) -> None:
    """Keep what the network's headers said of the account's budget (pacing reads it before posting)."""
    if rate is not None and rate.remaining is not None:
        account.rate_remaining, account.rate_reset_at = rate.remaining, rate.reset_at


@dataclass(frozen=True)
class Disconnected:
    handle: str
    revoked_at_network: bool  # False when the network could not be reached: the tokens are deleted all the same


def disconnect(account: SocialAccount, *, now: datetime | None = None) -> Disconnected:
    """Revoke the token at the network, cancel queued posts, delete the tokens and log it. Flushes."""
    now = now or utcnow()
    revoked = revoke_quietly(account)
    cancel_for_account(account.id, "the account was disconnected before this post went out", now)
    db.session.add(
        Consent(
            supporter_id=account.supporter_id,
            account_id=None,
            network=account.network,
            handle=account.handle,
            kind=ConsentKind.DISCONNECT,
            created_at=now,
        )
    )
    result = Disconnected(account.handle, revoked)
    db.session.delete(account)
    db.session.flush()
    return result


def revoke_quietly(account: SocialAccount) -> bool:
    """Revoke the account's grant at the network; False (and a log line) when the network did not confirm it."""
    try:
        _revoke(account)
    except (ChannelError, ValueError) as error:
        logger.warning("account %s: the network did not confirm the revocation (%s)", account.id, error)
        return False
    return True


def _revoke(account: SocialAccount) -> None:
    client_of(account).revoke(open_tokens(account))


def log_consent(account: SocialAccount, kind: ConsentKind, *, text: str = "", now: datetime | None = None) -> None:
    """Record what the supporter allowed through this account (the exact text, for a post or a pledge)."""
    db.session.add(
        Consent(
            supporter_id=account.supporter_id,
            account_id=account.id,
            network=account.network,
            handle=account.handle,
            kind=kind,
            text=text,
            created_at=now or utcnow(),
        )
    )


def consents_of(supporter_id: int) -> list[Consent]:
    return list(
        db.session.scalars(
            select(Consent).where(Consent.supporter_id == supporter_id).order_by(Consent.created_at.desc()).limit(200)
        )
    )
