"""Hearing of waves by e-mail: double opt-in, one-click unsubscribe, bounces. Signed links, no account.

A subscription is asked on the campaign page, confirmed by the link in the e-mail it triggers, and ended
by the link in every e-mail (a page, or RFC 8058's one-click POST). A bounced address is never written to
again; asking again with it starts a fresh confirmation.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import select

import mail
from accounts.organisations import sender_for
from campaign.models import Campaign
from channels.api import PostResult
from channels.email import normalise_handle
from channels.errors import ChannelError, ErrorKind
from extensions import db
from scheduler.models import Delivery
from scheduler.outbox import enqueue_email
from security import allow
from urls import public_url
from waves.models import CONFIRM, Subscription, SubscriptionState

CONFIRM_MAX_AGE = timedelta(days=7)
RESEND_AFTER = timedelta(minutes=10)  # asking again sooner sends no second e-mail
SUBSCRIBE_LIMIT_CLIENT = "5 per hour;20 per day"
SUBSCRIBE_LIMIT_MAILBOX = "3 per day"  # across campaigns and +tags


class OptInError(ValueError):
    """The address cannot be subscribed as given; the message says why."""


def _confirm_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="subscription-confirm")


def _unsubscribe_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="subscription-unsubscribe")


def _address_check(subscription: Subscription) -> str:
    """A short digest of the address: a link names its subscription by id and never carries the address."""
    return hashlib.sha256(subscription.email.encode()).hexdigest()[:16]


def _sent_mark(subscription: Subscription) -> int:
    return int(subscription.confirm_sent_at.timestamp()) if subscription.confirm_sent_at else 0


def confirm_token(subscription: Subscription) -> str:
    """Good for the confirmation it was sent with: a later request, or an unsubscription, voids it."""
    return _confirm_signer().dumps([subscription.id, _address_check(subscription), _sent_mark(subscription)])


def unsubscribe_token(subscription: Subscription) -> str:
    return _unsubscribe_signer().dumps([subscription.id, _address_check(subscription)])


def subscribe_allowed(campaign_id: int, email: str, client: str) -> bool:
    """The flood guard: a few confirmation requests per hashed client and per mailbox (`a+1@x` is `a@x`)."""
    local, _at, domain = email.strip().lower().rpartition("@")
    mailbox = f"{local.split('+', 1)[0]}@{domain}"
    return allow("subscribe-client", SUBSCRIBE_LIMIT_CLIENT, client) and allow(
        "subscribe-mailbox", SUBSCRIBE_LIMIT_MAILBOX, mailbox
    )


def unsubscribe_url(subscription: Subscription) -> str:
    return public_url("optin.unsubscribe", token=unsubscribe_token(subscription))


def subscribe(
    campaign_id: int,
    email: str,
    *,
    language: str,
    now: datetime,
    share: bool = False,
    visitor_id: str = "",
    supporter_id: int | None = None,
) -> Subscription | None:
    """Ask to hear of the campaign's waves; queues the confirmation e-mail and returns the subscription.

    `share` is the supporter's leave for the organisers to have the address; it holds once confirmed.
    `visitor_id` and `supporter_id` name the browser that asked (a data request from it finds the subscription).
    Returns None when nothing needs sending (already confirmed, or asked minutes ago). Raises OptInError
    for an address that is not one. Flushes; the caller commits, then notifies the dispatcher.
    """
    try:
        address = normalise_handle(email).lower()  # one subscription per mailbox, however it is typed
    except ValueError as exc:
        raise OptInError(_("This is not an e-mail address.")) from exc
    subscription = db.session.scalar(
        select(Subscription).where(Subscription.campaign_id == campaign_id, Subscription.email == address)
    )
    if subscription is None:
        subscription = Subscription(campaign_id=campaign_id, email=address, language=language, created_at=now)
        db.session.add(subscription)
    elif subscription.state is SubscriptionState.CONFIRMED:
        return None
    elif subscription.confirm_sent_at and subscription.confirm_sent_at > now - RESEND_AFTER:
        return None
    subscription.state, subscription.language = SubscriptionState.PENDING, language
    subscription.confirm_sent_at = now
    subscription.shared_at = now if share else None  # given (or taken back) with this confirmation
    subscription.visitor_id, subscription.supporter_id = visitor_id[:32], supporter_id
    db.session.flush()
    return subscription


def queue_confirmation(subscription: Subscription, now: datetime) -> Delivery:
    key = f"confirm-{subscription.id}-{int(now.timestamp())}"
    return enqueue_email(CONFIRM, subscription.id, key=key, language=subscription.language, now=now)


def confirm(token: str, now: datetime) -> Subscription | None:
    """Follow the confirmation link: the subscription, confirmed; None for a link we did not sign or too old."""
    try:
        subscription_id, check, sent = _confirm_signer().loads(token, max_age=int(CONFIRM_MAX_AGE.total_seconds()))
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    subscription = db.session.get(Subscription, subscription_id) if isinstance(subscription_id, int) else None
    if subscription is None or check != _address_check(subscription):
        return None
    if subscription.state is SubscriptionState.CONFIRMED:
        return subscription  # a second click on the same link
    if subscription.state is not SubscriptionState.PENDING or sent != _sent_mark(subscription):
        return None  # unsubscribed or bounced since, or a newer confirmation was sent: this link is spent
    subscription.state, subscription.confirmed_at = SubscriptionState.CONFIRMED, now
    subscription.unsubscribed_at = None
    db.session.flush()
    return subscription


def unsubscribe(token: str, now: datetime) -> Subscription | None:
    """Follow an unsubscribe link (page or one-click POST): nothing more is sent. Safe twice."""
    try:
        subscription_id, check = _unsubscribe_signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    subscription = db.session.get(Subscription, subscription_id) if isinstance(subscription_id, int) else None
    if subscription is None or check != _address_check(subscription):
        return None
    if subscription.state is not SubscriptionState.UNSUBSCRIBED:
        subscription.state, subscription.unsubscribed_at = SubscriptionState.UNSUBSCRIBED, now
    db.session.flush()
    return subscription


def mark_bounced(subscription: Subscription, reason: str, now: datetime) -> None:
    subscription.state, subscription.bounced_at, subscription.bounce_reason = SubscriptionState.BOUNCED, now, reason


def send_to(subscription: Subscription, message: mail.Outgoing, now: datetime) -> None:
    """Send to a subscription's address, marking it bounced when the server refuses it for good (in the
    session: the outbox commits it with the delivery's outcome)."""
    try:
        mail.send(message)
    except ChannelError as error:
        if error.kind is ErrorKind.REJECTED and error.reason.startswith("bounced"):
            mark_bounced(subscription, error.reason, now)
        raise


def deliver_confirmation(delivery: Delivery, now: datetime) -> PostResult:
    """The outbox handler: the confirmation e-mail. Raises ChannelError."""
    subscription = db.session.get(Subscription, delivery.ref_id)
    if subscription is None or subscription.state is not SubscriptionState.PENDING:
        raise ChannelError(ErrorKind.REJECTED, "nothing to confirm any more")
    campaign = db.session.get_one(Campaign, subscription.campaign_id)
    with force_locale(subscription.language):
        subject = _("Confirm your address to hear of the waves of %(title)s", title=campaign.title)
    message = mail.compose(
        to=subscription.email,
        subject=subject,
        template="waves/email/confirm",
        language=subscription.language,
        key=delivery.idempotency_key,
        sender=sender_for(campaign.organisation_id),
        campaign=campaign,
        shared=subscription.shared_at is not None,
        confirm_url=public_url("optin.confirm_subscription", token=confirm_token(subscription)),
    )
    send_to(subscription, message, now)
    return PostResult(message.message_id, "")
