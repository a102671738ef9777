"""A wave's reminder e-mail: the organiser's words, the targets assigned to this subscriber, a signed link.

The link names the reminder; following it opens the campaign with those targets first. Targets are
assigned in turns around the wave's targets (`waves.assigned_targets`), so the wave covers them evenly.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

import mail
from campaign.models import Campaign, Wave, WaveStatus
from campaign.offer import wave_target_ids
from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from extensions import db
from recipients.models import Recipient
from scheduler.models import Delivery
from urls import public_url
from waves.models import Reminder, Subscription, SubscriptionState
from waves.optin import send_to, unsubscribe_url
from waves.services import assigned_targets

PAUSED_RETRY = timedelta(minutes=1)
_cache_lock = threading.Lock()
_wave_targets: dict[tuple[int, datetime | None], tuple[list[int], dict[int, str]]] = {}


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="reminder-link")


def reminder_token(reminder_id: int) -> str:
    return _signer().dumps(reminder_id)


def reminder_from_token(token: str) -> Reminder | None:
    try:
        reminder_id = _signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return db.session.get(Reminder, reminder_id) if isinstance(reminder_id, int) else None


def targets_of(wave: Wave) -> tuple[list[int], dict[int, str]]:
    """The wave's targets in order, and their names: read once per wave and version (100,000 e-mails, one query)."""
    key = (wave.id, wave.updated_at)
    with _cache_lock:
        cached = _wave_targets.get(key)
    if cached is None:
        ids = wave_target_ids(wave)
        rows = db.session.execute(
            select(Recipient.id, Recipient.first_name, Recipient.last_name).where(Recipient.id.in_(ids))
        ).tuples()
        names = {rid: f"{first} {last}".strip() for rid, first, last in rows}
        cached = (ids, names)
        with _cache_lock:
            if len(_wave_targets) > 64:
                _wave_targets.clear()
            _wave_targets[key] = cached
    return cached


def reminder_targets(wave: Wave, reminder: Reminder) -> list[int]:
    return assigned_targets(targets_of(wave)[0], reminder.seq)


def send_test_reminder(wave: Wave, *, to: str, language: str, now: datetime) -> str:
    """The wave's reminder as its first subscriber will read it, sent now to an organiser: the same words,
    the first targets assigned; its link opens the campaign page (a personal link belongs to a subscriber).
    Returns the Message-ID. Raises ChannelError when the mail server refuses it."""
    campaign = db.session.get_one(Campaign, wave.campaign_id)
    ids, names = targets_of(wave)
    with force_locale(language):
        subject = _("Test · %(wave)s is on now · %(campaign)s", campaign=campaign.title, wave=wave.title)
    message = mail.compose(
        to=to,
        subject=subject,
        template="waves/email/reminder",
        language=language,
        key=f"reminder-test-{wave.id}-{int(now.timestamp())}",
        campaign=campaign,
        wave=wave,
        test=True,
        targets=[names.get(rid, "") for rid in assigned_targets(ids, 0)],
        action_url=public_url("campaign_public.campaign_page", slug=campaign.slug),
    )
    mail.send(message)
    return message.message_id


def deliver_reminder(delivery: Delivery, now: datetime) -> PostResult:
    """The outbox handler: one reminder. Held while the wave is paused; refused once it is over or the
    address unsubscribed or bounced. Raises ChannelError.
    """
    row = db.session.execute(  # one round trip: 100,000 of these go out when a wave opens
        select(Reminder, Subscription, Wave, Campaign)
        .join(Subscription, Subscription.id == Reminder.subscription_id)
        .join(Wave, Wave.id == Reminder.wave_id)
        .join(Campaign, Campaign.id == Wave.campaign_id)
        .where(Reminder.id == delivery.ref_id)
    ).one_or_none()
    if row is None:
        raise ChannelError(ErrorKind.REJECTED, "the reminder was deleted")
    reminder, subscription, wave, campaign = row
    if wave.status is WaveStatus.PAUSED:
        raise ChannelError(ErrorKind.DEFERRED, "the wave is paused", retry_at=now + PAUSED_RETRY)
    if wave.status is not WaveStatus.OPEN:
        raise ChannelError(ErrorKind.REJECTED, "the wave is over")
    if subscription.state is not SubscriptionState.CONFIRMED:
        raise ChannelError(ErrorKind.REJECTED, f"not sent: the address is {subscription.state.value}")
    ids, names = targets_of(wave)
    with force_locale(subscription.language):
        subject = _("%(wave)s is on now · %(campaign)s", campaign=campaign.title, wave=wave.title)
    message = mail.compose(
        to=subscription.email,
        subject=subject,
        template="waves/email/reminder",
        language=subscription.language,
        key=delivery.idempotency_key,
        unsubscribe_url=unsubscribe_url(subscription),
        campaign=campaign,
        wave=wave,
        targets=[names.get(rid, "") for rid in assigned_targets(ids, reminder.seq)],
        action_url=public_url(
            "campaign_waves_public.reminder_link", slug=campaign.slug, token=reminder_token(reminder.id)
        ),
    )
    send_to(subscription, message, now)
    return PostResult(message.message_id, "")
