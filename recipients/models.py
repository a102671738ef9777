"""Targets (decision-makers), lists of them, and the postcode → constituency map."""

from __future__ import annotations

import enum
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channels import Network
from database import utcnow
from extensions import Model, db


def fold(text: str) -> str:
    """`text` without accents and case, for sorting and searching names."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).casefold()


class TargetRole(enum.StrEnum):
    DEPUTY = "deputy"
    SENATOR = "senator"
    MINISTER = "minister"
    MEP = "mep"
    REPRESENTATIVE = "representative"
    OTHER = "other"


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"


recipient_list_member = Table(
    "recipient_list_member",
    db.metadata,
    Column("recipient_list_id", ForeignKey("recipient_list.id", ondelete="CASCADE"), primary_key=True),
    Column("recipient_id", ForeignKey("recipient.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Recipient(Model):
    __table_args__ = (
        UniqueConstraint("organisation_id", "source", "external_id"),
        Index("ix_recipient_organisation_constituency", "organisation_id", "constituency_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[TargetRole]
    title: Mapped[str] = mapped_column(String(200), default="")
    chamber: Mapped[str] = mapped_column(String(100), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[Gender | None]
    group_name: Mapped[str] = mapped_column(String(200), default="")
    constituency: Mapped[str] = mapped_column(String(200), default="")
    constituency_code: Mapped[str] = mapped_column(String(64), default="")
    department: Mapped[str] = mapped_column(String(8), default="")
    committees: Mapped[list[str]] = mapped_column(JSON, default=list)
    handle_x: Mapped[str | None] = mapped_column(String(64))
    handle_bluesky: Mapped[str | None] = mapped_column(String(253))
    handle_mastodon: Mapped[str | None] = mapped_column(String(320))
    email: Mapped[str | None] = mapped_column(String(254))
    salutation: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def sort_key(self) -> tuple[str, str]:
        """Alphabetical by family name, accents and case aside (Écoffier among the Es)."""
        return (fold(self.last_name), fold(self.first_name))

    def handle(self, network: Network) -> str | None:
        """The address on `network` (e-mail for e-mail), or None when the target is not there."""
        return {
            Network.X: self.handle_x,
            Network.BLUESKY: self.handle_bluesky,
            Network.MASTODON: self.handle_mastodon,
            Network.EMAIL: self.email,
        }[network] or None

    @staticmethod
    def handle_column(network: Network) -> Any:
        """The column that holds the address on `network`, for queries."""
        return {
            Network.X: Recipient.handle_x,
            Network.BLUESKY: Recipient.handle_bluesky,
            Network.MASTODON: Recipient.handle_mastodon,
            Network.EMAIL: Recipient.email,
        }[network]

    def networks(self) -> list[Network]:
        return [network for network in Network if self.handle(network)]


class RecipientList(Model):
    """A named set of targets shared by an organisation's campaigns.

    A static list holds its members; a dynamic one holds saved filters (`criteria`, the fields of
    `recipients.services.TargetFilter`) and its members are whoever passes them today.
    """

    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_dynamic: Mapped[bool] = mapped_column(default=False)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[Recipient]] = relationship(secondary=recipient_list_member, order_by=Recipient.last_name)


class PostcodeArea(Model):
    """One postcode's constituencies in one organisation's map; a postcode that spans several has several rows."""

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    postcode: Mapped[str] = mapped_column(String(10), primary_key=True)
    constituency_code: Mapped[str] = mapped_column(String(16), primary_key=True)


STALL_SECONDS = 600


class ImportState(enum.StrEnum):
    MAPPING = "mapping"  # a CSV of unknown layout waits for its columns to be mapped
    CHECKING = "checking"
    CHECKED = "checked"  # the dry run's report is ready; nothing written yet
    IMPORTING = "importing"
    DONE = "done"
    FAILED = "failed"  # the file has errors, or the job crashed; nothing written
    DISCARDED = "discarded"


class ImportRun(Model):
    """One file on its way in: dry run first, then the import, both as background jobs with progress.

    The file is kept in the row until the run ends (so any worker can pick it up) and dropped then.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    state: Mapped[ImportState] = mapped_column(default=ImportState.CHECKING)
    file_format: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255), default="")
    data: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    extra_filename: Mapped[str] = mapped_column(String(255), default="")
    extra_data: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    source: Mapped[str] = mapped_column(String(64))
    list_name: Mapped[str] = mapped_column(String(200), default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    processed: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)  # progress moves it
    finished_at: Mapped[datetime | None]

    @property
    def is_busy(self) -> bool:
        return self.state in (ImportState.CHECKING, ImportState.IMPORTING)

    def is_stalled(self, now: datetime) -> bool:
        """Busy, yet silent for ten minutes: its worker died (a restart); the run can be discarded."""
        return self.is_busy and (now - self.updated_at).total_seconds() > STALL_SECONDS


class ImportMapping(Model):
    """A CSV column mapping saved by an organisation, offered again for files with the same header."""

    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    columns: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # file column → target field
    role: Mapped[TargetRole | None]  # for files without a role column
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
