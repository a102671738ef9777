"""Supporters, the network accounts they connect, and the record of what they consented to."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channels import Network
from database import utcnow
from extensions import Model


class Supporter(Model):
    """A person who connected an account. Known by their browser's session; no e-mail or password needed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(2), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Erased at their request or by the retention job: the row stays, empty, for the accounts' counts.
    erased_at: Mapped[datetime | None]

    accounts: Mapped[list[SocialAccount]] = relationship(back_populates="supporter", cascade="all, delete-orphan")


class AccountState(enum.StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"  # the network refused the token and it could not be refreshed
    ERASED = "erased"  # its supporter's data was erased: no tokens, no handle; its followers count for reach


class SocialAccount(Model):
    """A supporter's account on a network, its tokens sealed (`tokenbox`), and its rate budget."""

    __table_args__ = (UniqueConstraint("supporter_id", "network"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"), index=True)
    network: Mapped[Network]
    instance: Mapped[str] = mapped_column(String(253), default="")  # the Mastodon server, or the Bluesky PDS
    remote_id: Mapped[str] = mapped_column(String(200))  # X user id, Mastodon account id, Bluesky DID
    handle: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    followers: Mapped[int | None]
    followers_at: Mapped[datetime | None]
    sealed_tokens: Mapped[str] = mapped_column(Text)  # JSON, sealed: never readable in the database
    token_expires_at: Mapped[datetime | None]  # when the access token must be refreshed (X, Bluesky)
    char_limit: Mapped[int | None]  # the Mastodon instance's own limit
    state: Mapped[AccountState] = mapped_column(default=AccountState.CONNECTED)
    rate_remaining: Mapped[int | None]
    rate_reset_at: Mapped[datetime | None]
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    supporter: Mapped[Supporter] = relationship(back_populates="accounts")

    @property
    def label(self) -> str:
        return f"@{self.handle}"


class ConsentKind(enum.StrEnum):
    CONNECT = "connect"  # allowed us to post on their click
    POST = "post"  # clicked to post this exact text
    DISCONNECT = "disconnect"  # took it back: tokens revoked and deleted
    PLEDGE = "pledge"  # approved this exact text for release during a wave
    WITHDRAW = "withdraw"  # took a consent back (the text says which)


class Consent(Model):
    """Who allowed what, when, with which text, on which network. Kept after the account is disconnected."""

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporter.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("social_account.id", ondelete="SET NULL"))
    network: Mapped[Network]
    handle: Mapped[str] = mapped_column(String(320))
    kind: Mapped[ConsentKind]
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MastodonApp(Model):
    """Our app as registered on one Mastodon instance: kept, and registered again when the instance forgot it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(253), unique=True)
    redirect_uri: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
