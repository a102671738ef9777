"""One client interface for the networks a supporter connects: post, profile, refresh, revoke, metrics.

A client is made for one account (`client`) and takes the account's opened secrets (the dict its row
seals) on every call, so that no caller branches on the network and none holds a token longer than
a call. No database, no Flask: the caller reads and writes the account.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from channels import Network, bluesky, mastodon, x
from channels.api import PostMetrics, PostResult, Profile, Tokens
from channels.http import Endpoint

Secrets = dict[str, Any]


@dataclass(frozen=True)
class Grant:
    """What a refresh gives: the secrets to seal in place of the old ones, and when they expire."""

    secrets: Secrets
    expires_at: datetime | None


@dataclass(frozen=True)
class Holder:
    """What a client needs to know of the account itself (not secret): its handle, instance and id there."""

    handle: str
    instance: str = ""
    remote_id: str = ""


class Client(Protocol):
    @property
    def network(self) -> Network: ...

    @property
    def rotates(self) -> bool:
        """Its tokens expire and are refreshed (X, Bluesky); Mastodon's last until revoked."""
        ...

    @property
    def public_metrics(self) -> bool:
        """Its posts' counts are read without the account's tokens (Bluesky)."""
        ...

    def new_key(self, now: datetime | None = None) -> str:
        """The idempotency key a new post carries through every retry."""
        ...

    def post(self, secrets: Secrets, text: str, *, key: str, language: str = "", retry: bool = False) -> PostResult:
        """Post `text`; on a `retry`, an earlier attempt may have posted already. Raises ChannelError."""
        ...

    def profile(self, secrets: Secrets) -> Profile: ...

    def refresh(self, secrets: Secrets) -> Grant:
        """New tokens. Raises ChannelError(AUTH_EXPIRED) when the grant was revoked or expired."""
        ...

    def revoke(self, secrets: Secrets) -> None:
        """Ask the network to forget the grant. Raises ChannelError (or ValueError) when it could not."""
        ...

    def metrics(self, secrets: Secrets, remote_ids: list[str]) -> list[PostMetrics]:
        """Counts of our posts, keyed by the remote ids we keep; posts the network no longer has are left out."""
        ...


def x_grant(tokens: Tokens) -> Grant:
    """The secrets kept of an X grant (its expiry inside, as X's token answer had it)."""
    expires = tokens.expires_at.timestamp() if tokens.expires_at else None
    return Grant({"access": tokens.access, "refresh": tokens.refresh, "expires_at": expires}, tokens.expires_at)


@dataclass(frozen=True)
class XClient:
    endpoint: Endpoint
    app: x.XApp
    holder: Holder
    network: Network = Network.X
    rotates: bool = True
    public_metrics: bool = False

    def new_key(self, now: datetime | None = None) -> str:
        return uuid.uuid4().hex  # X takes none: a retry's "duplicate content" says the first attempt posted

    def post(self, secrets: Secrets, text: str, *, key: str, language: str = "", retry: bool = False) -> PostResult:
        return x.post(self.endpoint, str(secrets["access"]), text, handle=self.holder.handle)

    def profile(self, secrets: Secrets) -> Profile:
        return x.profile(self.endpoint, str(secrets["access"]))

    def refresh(self, secrets: Secrets) -> Grant:
        return x_grant(x.refresh(self.endpoint, self.app, str(secrets["refresh"])))

    def revoke(self, secrets: Secrets) -> None:
        x.revoke(self.endpoint, self.app, str(secrets["access"]))

    def metrics(self, secrets: Secrets, remote_ids: list[str]) -> list[PostMetrics]:
        return x.metrics(self.endpoint, str(secrets["access"]), remote_ids)


@dataclass(frozen=True)
class MastodonClient:
    endpoint: Endpoint
    app: Callable[[], mastodon.MastodonApp | None]  # our app on the instance, read only to revoke
    holder: Holder
    network: Network = Network.MASTODON
    rotates: bool = False
    public_metrics: bool = False

    def new_key(self, now: datetime | None = None) -> str:
        return uuid.uuid4().hex  # sent as Idempotency-Key: a repeat gets the first post back

    def post(self, secrets: Secrets, text: str, *, key: str, language: str = "", retry: bool = False) -> PostResult:
        return mastodon.post(self.endpoint, self.holder.instance, str(secrets["access"]), text, idempotency_key=key)

    def profile(self, secrets: Secrets) -> Profile:
        return mastodon.profile(self.endpoint, self.holder.instance, str(secrets["access"]))

    def refresh(self, secrets: Secrets) -> Grant:
        return Grant(secrets, None)  # nothing to refresh: the token lasts until revoked

    def revoke(self, secrets: Secrets) -> None:
        app = self.app()
        if app is None:
            raise ValueError("no app is kept for this instance")
        mastodon.revoke(self.endpoint, app, str(secrets["access"]))

    def metrics(self, secrets: Secrets, remote_ids: list[str]) -> list[PostMetrics]:
        return mastodon.metrics(self.endpoint, self.holder.instance, str(secrets["access"]), remote_ids)


@dataclass(frozen=True)
class BlueskyClient:
    endpoint: Endpoint
    holder: Holder
    network: Network = Network.BLUESKY
    rotates: bool = True
    public_metrics: bool = True

    def new_key(self, now: datetime | None = None) -> str:
        return bluesky.new_record_key(now)  # the record key: a second post under it cannot be made

    def post(self, secrets: Secrets, text: str, *, key: str, language: str = "", retry: bool = False) -> PostResult:
        session = bluesky.Session(**secrets)
        if retry and bluesky.find_record(self.endpoint, session, key):  # posted before its answer was lost
            return PostResult(key, bluesky.post_url(self.endpoint, session.handle, key))
        return bluesky.post(self.endpoint, session, text, rkey=key, language=language)

    def profile(self, secrets: Secrets) -> Profile:
        return bluesky.profile(self.endpoint, bluesky.Session(**secrets))

    def refresh(self, secrets: Secrets) -> Grant:
        session = bluesky.refresh_session(self.endpoint, bluesky.Session(**secrets))
        return Grant(session.as_dict(), session.expires_at)

    def revoke(self, secrets: Secrets) -> None:
        bluesky.delete_session(self.endpoint, bluesky.Session(**secrets))

    def metrics(self, secrets: Secrets, remote_ids: list[str]) -> list[PostMetrics]:
        """Read by at:// URI from the public AppView, given back under the record keys we keep."""
        uris = {bluesky.at_uri(self.holder.remote_id, rid): rid for rid in remote_ids}
        found = bluesky.metrics(self.endpoint, list(uris))
        return [
            PostMetrics(uris[m.remote_id], m.likes, m.reposts, m.replies, m.quotes)
            for m in found
            if m.remote_id in uris
        ]


def client(
    network: Network,
    endpoint: Endpoint,
    holder: Holder,
    *,
    x_app: x.XApp | None = None,
    mastodon_app: Callable[[], mastodon.MastodonApp | None] | None = None,
) -> Client:
    """The client for an account on `network`, reached at `endpoint` (the network, or the sandbox)."""
    if network is Network.X:
        if x_app is None:
            raise ValueError("an X client needs our X app")
        return XClient(endpoint, x_app, holder)
    if network is Network.MASTODON:
        return MastodonClient(endpoint, mastodon_app or (lambda: None), holder)
    if network is Network.BLUESKY:
        return BlueskyClient(endpoint, holder)
    raise ValueError(f"{network.label} has no API client: it is reached by compose links only")
