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
from accounts.organisations import sender_for
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
_skeletons: dict[tuple[object, ...], mail.Skeleton] = {}


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
        sender=sender_for(campaign.organisation_id),
        campaign=campaign,
        wave=wave,
        test=True,
        targets=[names.get(rid, "") for rid in assigned_targets(ids, 0)],
        action_url=public_url("campaign_public.campaign_page", slug=campaign.slug),
    )
    mail.send(message)
    return message.message_id


def reminder_skeleton(wave: Wave, campaign: Campaign, language: str, targets: int) -> mail.Skeleton:
    """The wave's reminder rendered once a language (and version of the wave and campaign), with markers for
    each subscriber's link, unsubscribe link and assigned targets."""
    sender = sender_for(campaign.organisation_id)  # its settings may change between two waves
    key = (wave.id, wave.updated_at, campaign.id, campaign.version, language, targets, sender)
    with _cache_lock:
        cached = _skeletons.get(key)
    if cached is None:
        with force_locale(language):
            subject = _("%(wave)s is on now · %(campaign)s", campaign=campaign.title, wave=wave.title)
        cached = mail.skeleton(
            subject=subject,
            template="waves/email/reminder",
            language=language,
            slots=["action_url", *(f"targets.{n}" for n in range(targets))],
            sender=sender,
            campaign=campaign,
            wave=wave,
        )
        with _cache_lock:
            if len(_skeletons) > 64:
                _skeletons.clear()
            _skeletons[key] = cached
    return cached


def load_reminders(deliveries: list[Delivery]) -> list[object]:
    """The outbox's loader: a batch's reminders with their subscriptions in one query, and the few waves and
    campaigns they share in one more each (100,000 of these go out when a wave opens)."""
    ids = [d.ref_id for d in deliveries if d.ref_id]
    if not ids:
        return []
    rows = db.session.execute(
        select(Reminder, Subscription)
        .join(Subscription, Subscription.id == Reminder.subscription_id)
        .where(Reminder.id.in_(ids))
    ).all()
    loaded: list[object] = [item for row in rows for item in row]
    waves = list(db.session.scalars(select(Wave).where(Wave.id.in_({r.wave_id for r, _s in rows}))))
    campaigns = db.session.scalars(select(Campaign).where(Campaign.id.in_({w.campaign_id for w in waves})))
    return [*loaded, *waves, *campaigns]


def deliver_reminder(delivery: Delivery, now: datetime) -> PostResult:
    """The outbox handler: one reminder. Held while the wave is paused; refused once it is over or the
    address unsubscribed or bounced. Raises ChannelError.
    """
    # In a batch, `load_reminders` read these in one query and the session answers without another.
    reminder = db.session.get(Reminder, delivery.ref_id) if delivery.ref_id else None
    if reminder is None:
        raise ChannelError(ErrorKind.REJECTED, "the reminder was deleted")
    subscription = db.session.get_one(Subscription, reminder.subscription_id)
    wave = db.session.get_one(Wave, reminder.wave_id)
    campaign = db.session.get_one(Campaign, wave.campaign_id)
    if wave.status is WaveStatus.PAUSED:
        raise ChannelError(ErrorKind.DEFERRED, "the wave is paused", retry_at=now + PAUSED_RETRY)
    if wave.status is not WaveStatus.OPEN:
        raise ChannelError(ErrorKind.REJECTED, "the wave is over")
    if subscription.state is not SubscriptionState.CONFIRMED:
        raise ChannelError(ErrorKind.REJECTED, f"not sent: the address is {subscription.state.value}")
    ids, names = targets_of(wave)
    assigned = [names.get(rid, "") for rid in assigned_targets(ids, reminder.seq)]
    message = reminder_skeleton(wave, campaign, subscription.language, len(assigned)).fill(
        to=subscription.email,
        key=delivery.idempotency_key,
        unsubscribe_url=unsubscribe_url(subscription),
        action_url=public_url(
            "campaign_waves_public.reminder_link", slug=campaign.slug, token=reminder_token(reminder.id)
        ),
        **{f"targets_{n}": name for n, name in enumerate(assigned)},
    )
    send_to(subscription, message, now)
    return PostResult(message.message_id, "")
