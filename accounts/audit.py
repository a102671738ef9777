"""The audit log: what staff do that matters, who did it, when, and from which hashed client.

Rows are only ever added (`record`) and, past the organisation's log period, purged by the retention job;
no page or service edits one. The `Action` names are the log's vocabulary; `label` words them.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select

from accounts.models import AuditEvent, User
from clients import hashed_client
from database import utcnow
from extensions import db


class Act(enum.StrEnum):
    CAMPAIGN_PUBLISHED = "campaign.published"
    CAMPAIGN_PAUSED = "campaign.paused"
    CAMPAIGN_RESUMED = "campaign.resumed"
    CAMPAIGN_ENDED = "campaign.ended"
    WAVE_SCHEDULED = "wave.scheduled"
    WAVE_EDITED = "wave.edited"
    WAVE_PAUSED = "wave.paused"
    WAVE_RESUMED = "wave.resumed"
    WAVE_CANCELLED = "wave.cancelled"
    IMPORT_RUN = "import.run"
    EXPORT_PERSONAL = "export.personal"
    STAFF_INVITED = "staff.invited"
    INVITATION_REVOKED = "staff.invitation_revoked"
    STAFF_JOINED = "staff.joined"
    ROLE_CHANGED = "staff.role_changed"
    STAFF_REMOVED = "staff.removed"
    PASSWORD_CHANGED = "staff.password_changed"  # noqa: S105 (a name, not a password)
    PASSWORD_RESET = "staff.password_reset"  # noqa: S105
    TWO_FACTOR_ENABLED = "staff.two_factor_enabled"
    TWO_FACTOR_DISABLED = "staff.two_factor_disabled"
    RECOVERY_CODES = "staff.recovery_codes"
    SESSION_ENDED = "staff.session_ended"
    SETTINGS_CHANGED = "organisation.settings"
    ORGANISATION_CREATED = "organisation.created"
    DATA_ACCESS = "privacy.access"
    DATA_ERASURE = "privacy.erasure"
    RETENTION_RUN = "privacy.retention"


LABELS = {
    Act.CAMPAIGN_PUBLISHED: _l("Campaign published"),
    Act.CAMPAIGN_PAUSED: _l("Campaign paused"),
    Act.CAMPAIGN_RESUMED: _l("Campaign resumed"),
    Act.CAMPAIGN_ENDED: _l("Campaign ended"),
    Act.WAVE_SCHEDULED: _l("Wave scheduled"),
    Act.WAVE_EDITED: _l("Wave edited"),
    Act.WAVE_PAUSED: _l("Wave paused"),
    Act.WAVE_RESUMED: _l("Wave resumed"),
    Act.WAVE_CANCELLED: _l("Wave cancelled"),
    Act.IMPORT_RUN: _l("Targets imported"),
    Act.EXPORT_PERSONAL: _l("Export with personal data"),
    Act.STAFF_INVITED: _l("Colleague invited"),
    Act.INVITATION_REVOKED: _l("Invitation withdrawn"),
    Act.STAFF_JOINED: _l("Invitation accepted"),
    Act.ROLE_CHANGED: _l("Role changed"),
    Act.STAFF_REMOVED: _l("Colleague removed"),
    Act.PASSWORD_CHANGED: _l("Password changed"),
    Act.PASSWORD_RESET: _l("Password reset by e-mail"),
    Act.TWO_FACTOR_ENABLED: _l("Two-step sign-in turned on"),
    Act.TWO_FACTOR_DISABLED: _l("Two-step sign-in turned off"),
    Act.RECOVERY_CODES: _l("New recovery codes"),
    Act.SESSION_ENDED: _l("Session ended"),
    Act.SETTINGS_CHANGED: _l("Organisation settings changed"),
    Act.ORGANISATION_CREATED: _l("Organisation created"),
    Act.DATA_ACCESS: _l("Supporter's data sent on request"),
    Act.DATA_ERASURE: _l("Supporter's data erased on request"),
    Act.RETENTION_RUN: _l("Retention: old data removed"),
}


def label(action: str) -> str:
    try:
        return str(LABELS[Act(action)])
    except ValueError:
        return action


def record(
    act: Act,
    *,
    organisation_id: int | None,
    actor: User | None = None,
    subject: str = "",
    detail: str = "",
    client: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Add a line to the log (in the caller's transaction: it is written with what it records). Flushes."""
    if client is None:
        client = hashed_client() if has_request_context() else ""
    event = AuditEvent(
        organisation_id=organisation_id,
        user_id=actor.id if actor is not None else None,
        actor=actor.email if actor is not None else "",
        action=act.value,
        subject=subject[:300],
        detail=detail[:2000],
        client=client,
        created_at=now or utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    return event


def address_digest(address: str) -> str:
    """A keyed digest of an e-mail address: the log can say "this address's request" without keeping it."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"audit:" + address.strip().lower().encode(), hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class Filter:
    action: str = ""
    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


PAGE_SIZE = 50


def events(organisation_id: int, chosen: Filter, *, page: int = 1) -> tuple[Sequence[AuditEvent], int]:
    """One page of the organisation's log, newest first, and how many lines match in all."""
    query: Select[tuple[AuditEvent]] = select(AuditEvent).where(AuditEvent.organisation_id == organisation_id)
    if chosen.action:
        query = query.where(AuditEvent.action == chosen.action)
    if chosen.user_id:
        query = query.where(AuditEvent.user_id == chosen.user_id)
    if chosen.since:
        query = query.where(AuditEvent.created_at >= chosen.since)
    if chosen.until:
        query = query.where(AuditEvent.created_at < chosen.until)
    total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = db.session.scalars(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return rows, total
