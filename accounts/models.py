"""Organisations, their staff, and what keeps staff accounts safe: sessions, second factors, invitations."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from database import utcnow
from extensions import Model
from urls import slugify


class Role(enum.StrEnum):
    ADMIN = "admin"
    ORGANISER = "organiser"
    ANALYST = "analyst"


class Organisation(Model):
    """An organisation that runs campaigns: the controller of its supporters' data (GDPR), with its rules."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Its privacy page's address, /privacy/<slug> (from the name unless given).
    slug: Mapped[str] = mapped_column(
        String(80),
        unique=True,
        index=True,
        server_default="",
        default=lambda context: slugify(context.get_current_parameters()["name"], "organisation"),
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What its e-mails say they come from (the address is the instance's MAIL_FROM) and where answers go.
    sender_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reply_to: Mapped[str] = mapped_column(String(254), default="", server_default="")
    language: Mapped[str] = mapped_column(String(2), default="fr", server_default="fr")
    timezone: Mapped[str] = mapped_column(String(64), default="", server_default="")  # "": the instance's TIMEZONE
    privacy_contact: Mapped[str] = mapped_column(String(254), default="", server_default="")
    requires_two_factor: Mapped[bool] = mapped_column(default=False, server_default="0")
    # Retention (`privacy.retention`): the defaults follow the CNIL's guidance (README, "Supporters' data").
    retention_supporter_months: Mapped[int] = mapped_column(default=36, server_default="36")
    retention_pending_days: Mapped[int] = mapped_column(default=30, server_default="30")
    retention_bounced_months: Mapped[int] = mapped_column(default=13, server_default="13")
    retention_import_days: Mapped[int] = mapped_column(default=90, server_default="90")
    retention_log_months: Mapped[int] = mapped_column(default=12, server_default="12")

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    @property
    def mail_sender_name(self) -> str:
        return self.sender_name or self.name


class User(UserMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(default=Role.ORGANISER)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    is_instance_admin: Mapped[bool] = mapped_column(default=False, server_default="0")  # creates organisations
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Bumped by a password or role change and by removal: every session carrying an older version is refused.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    sealed_totp_secret: Mapped[str] = mapped_column(Text, default="", server_default="")  # sealed like tokens
    two_factor_at: Mapped[datetime | None]  # when the second factor was confirmed; None: not enrolled
    totp_last_step: Mapped[int] = mapped_column(default=0, server_default="0")  # a code is good once

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    login_nonce: str = ""  # the StaffSession this request belongs to (not stored on the user)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie: id, session version, session key."""
        return f"{self.id}.{self.session_version}.{self.login_nonce}"

    def end_sessions(self) -> None:
        """Sign out every browser this user is signed in on (password or role change, removal)."""
        self.session_version = (self.session_version or 1) + 1

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return self.is_enabled

    @property
    def has_two_factor(self) -> bool:
        return self.two_factor_at is not None

    @property
    def can_edit(self) -> bool:
        """Organisers and admins build campaigns; analysts only read."""
        return self.role in (Role.ADMIN, Role.ORGANISER)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def set_password(self, password: str) -> None:
        if self.password_hash:
            self.end_sessions()
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class StaffSession(Model):
    """One sign-in of a staff member on one browser: listed on their security page, ended from there."""

    __table_args__ = (Index("ix_staff_session_user", "user_id", "ended_at"),)

    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # the nonce in the session cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(32), default="")  # hashed (clients.hashed_client)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_verified: Mapped[bool] = mapped_column(default=False)  # past the second factor (or none is asked)
    ended_at: Mapped[datetime | None]


class RecoveryCode(Model):
    """A single-use code that stands in for the authenticator app. Only its hash is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class Invitation(Model):
    """An admin's invitation to join the organisation: good once, until `expires_at`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role]
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    nonce: Mapped[str] = mapped_column(String(32))  # in the signed link: a new invitation voids the old link
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def is_open(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class AuditEvent(Model):
    """Something a staff member did that matters (audit log). Written once, never edited; purged by age."""

    __table_args__ = (Index("ix_audit_event_org_created", "organisation_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254), default="")  # the e-mail then, kept if the user goes
    action: Mapped[str] = mapped_column(String(48), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(32), default="")  # hashed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
