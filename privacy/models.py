"""What the privacy package keeps of its own: the data requests that arrived by e-mail link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from database import utcnow
from extensions import Model

DATA_LINK = "privacy_data_link"  # the outbox kind of the e-mail that carries a data request's link


class DataRequest(Model):
    """A supporter asked, by typing their address, for a link to their data: good once, for a day."""

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
