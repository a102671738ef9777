"""Organisations and their staff."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from database import utcnow
from extensions import Model


class Role(enum.StrEnum):
    ADMIN = "admin"
    ORGANISER = "organiser"
    ANALYST = "analyst"


class Organisation(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(UserMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(default=Role.ORGANISER)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Bumped by logout and by a password change: every session and remember-me cookie carrying an older
    # version is refused (`get_id` puts it in both).
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    login_nonce: str = ""  # per sign-in, not stored: each remember-me cookie differs from the last one

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie: id, session version, sign-in nonce."""
        return f"{self.id}.{self.session_version}.{self.login_nonce}"

    def end_sessions(self) -> None:
        """Sign out every browser this user is signed in on (logout, password change)."""
        self.session_version = (self.session_version or 1) + 1

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return self.is_enabled

    @property
    def can_edit(self) -> bool:
        """Organisers and admins build campaigns; analysts only read."""
        return self.role in (Role.ADMIN, Role.ORGANISER)

    def set_password(self, password: str) -> None:
        if self.password_hash:
            self.end_sessions()
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
