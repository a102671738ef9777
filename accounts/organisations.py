"""An organisation's own settings, and new organisations (the CLI, or the instance admin's page)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from flask_babel import gettext as _
from sqlalchemy import select

from accounts import audit
from accounts.audit import Act
from accounts.models import Organisation, User
from accounts.services import AccountError, free_organisation_slug
from extensions import db
from mail import Sender

LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Settings:
    """What an admin sets on the organisation's page."""

    name: str
    sender_name: str
    reply_to: str
    language: str
    timezone: str
    privacy_contact: str
    requires_two_factor: bool
    retention_supporter_months: int
    retention_pending_days: int
    retention_bounced_months: int
    retention_import_days: int
    retention_log_months: int


def settings_of(organisation: Organisation) -> Settings:
    return Settings(**{field.name: getattr(organisation, field.name) for field in fields(Settings)})


def update_settings(organisation: Organisation, chosen: Settings, *, by: User) -> list[str]:
    """Apply the settings; the names of the fields that changed (logged). Raises AccountError. Flushes."""
    if not chosen.name.strip():
        raise AccountError(_("An organisation needs a name."))
    if chosen.language not in LANGUAGES:
        raise AccountError(_("Unknown language."))
    if chosen.timezone and chosen.timezone.strip() not in available_timezones():
        raise AccountError(_("Unknown time zone: write it as in the tz database, for example Europe/Paris."))
    taken = db.session.scalar(
        select(Organisation.id).where(Organisation.name == chosen.name.strip(), Organisation.id != organisation.id)
    )
    if taken is not None:
        raise AccountError(_("Another organisation has this name."))
    changed = []
    for field in fields(Settings):
        value: Any = getattr(chosen, field.name)
        if isinstance(value, str):
            value = value.strip()
        if getattr(organisation, field.name) != value:
            setattr(organisation, field.name, value)
            changed.append(field.name)
    if changed:
        db.session.flush()
        audit.record(
            Act.SETTINGS_CHANGED,
            organisation_id=organisation.id,
            actor=by,
            subject=organisation.name,
            detail=", ".join(changed),
        )
    return changed


def sender_for(organisation_id: int) -> Sender:
    """Who the e-mails of an organisation's campaign are from."""
    return sender_of(db.session.get(Organisation, organisation_id))


def sender_of(organisation: Organisation | None) -> Sender:
    """Who the organisation's e-mails are from, for `mail`."""
    if organisation is None:
        return Sender()
    return Sender(name=organisation.mail_sender_name, reply_to=organisation.reply_to or organisation.privacy_contact)


def create_organisation(name: str, *, by: User | None = None, now: datetime) -> Organisation:
    """A new organisation (its first admin comes next: a user from the CLI, an invitation from the web).
    Raises AccountError for an empty or taken name. Flushes."""
    name = name.strip()
    if not name:
        raise AccountError(_("An organisation needs a name."))
    if db.session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None:
        raise AccountError(_("An organisation named %(name)s already exists.", name=name))
    organisation = Organisation(name=name[:200], slug=free_organisation_slug(name), created_at=now)
    db.session.add(organisation)
    db.session.flush()
    audit.record(Act.ORGANISATION_CREATED, organisation_id=organisation.id, actor=by, subject=name, now=now)
    return organisation


def all_organisations() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
