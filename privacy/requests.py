"""A supporter's request by e-mail: a signed link, good once and for a day, that opens their data in the
browser that follows it (for an hour), and who the request is about in this browser.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta

from flask import current_app, session
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from accounts.mailing import send_notice
from accounts.models import Organisation
from channels.api import PostResult
from channels.email import normalise_handle
from channels.errors import ChannelError, ErrorKind
from extensions import db
from privacy.models import DATA_LINK, DataRequest
from privacy.subject import Subject
from scheduler.models import Delivery
from scheduler.outbox import enqueue_email
from supporters.identity import current_supporter_id
from urls import public_url

LINK_HOURS = 24
OPEN_SECONDS = 3600  # a followed link opens the data in its browser this long
REQUEST_LIMIT_CLIENT = "5 per hour;20 per day"
REQUEST_LIMIT_ADDRESS = "3 per hour;5 per day"


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="privacy-data-request")


def normalise(email: str) -> str | None:
    try:
        return normalise_handle(email).lower()
    except ValueError:
        return None


def request_link(email: str, organisation: Organisation | None, now: datetime) -> Delivery:
    """Queue the e-mail with the link, whatever the address holds (the page says the same either way; the
    e-mail says what it finds). Flushes; the caller commits and notifies the outbox."""
    row = DataRequest(
        organisation_id=organisation.id if organisation else None,
        email=email,
        nonce=secrets.token_hex(8),
        created_at=now,
        expires_at=now + timedelta(hours=LINK_HOURS),
    )
    db.session.add(row)
    db.session.flush()
    language = organisation.language if organisation else "fr"
    return enqueue_email(DATA_LINK, row.id, key=f"{DATA_LINK}-{row.id}-{row.nonce}", language=language, now=now)


def link_token(row: DataRequest) -> str:
    return _signer().dumps([row.id, row.nonce])


def follow(token: str, now: datetime) -> DataRequest | None:
    """Spend a link: its request, or None for a forged, expired or used one. Flushes."""
    try:
        request_id, nonce = _signer().loads(token, max_age=LINK_HOURS * 3600)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    row = db.session.get(DataRequest, request_id) if isinstance(request_id, int) else None
    if row is None or not isinstance(nonce, str) or not secrets.compare_digest(row.nonce, nonce):
        return None
    if row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    db.session.flush()
    return row


def open_in_browser(email: str) -> None:
    """The address is proven in this browser for an hour."""
    kept = [item for item in session.get("privacy_emails") or [] if isinstance(item, list) and len(item) == 2]
    kept = [item for item in kept if item[0] != email and item[1] > time.time()][-4:]
    session["privacy_emails"] = [*kept, [email, int(time.time()) + OPEN_SECONDS]]


def proven_emails() -> frozenset[str]:
    return frozenset(
        item[0]
        for item in session.get("privacy_emails") or []
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and int(item[1]) > time.time()
    )


def browser_subject() -> Subject:
    """Who this browser is: its visitor id (only if it has one already), its supporter, the addresses proven in it."""
    vid = session.get("vid")
    supporter = current_supporter_id()
    return Subject(
        visitor_ids=frozenset([vid]) if isinstance(vid, str) and vid else frozenset(),
        supporter_ids=frozenset([supporter]) if supporter else frozenset(),
        emails=proven_emails(),
    )


def forget_browser() -> None:
    """After an erasure: the browser carries nothing that named the person (a new visit starts afresh)."""
    for key in ("vid", "supporter", "visits", "subscribed", "privacy_emails"):
        session.pop(key, None)


def deliver_data_link(delivery: Delivery, now: datetime) -> PostResult:
    """The outbox handler: the link, in the organisation's language. Raises ChannelError."""
    row = db.session.get(DataRequest, delivery.ref_id)
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise ChannelError(ErrorKind.REJECTED, "the request was used or has expired")
    organisation = db.session.get(Organisation, row.organisation_id) if row.organisation_id else None
    language = organisation.language if organisation else "fr"
    with force_locale(language):
        return send_notice(
            to=row.email,
            organisation=organisation,
            language=language,
            key=delivery.idempotency_key,
            subject=_("Your data on Porte-voix"),
            heading=_("What we hold about this address"),
            lines=[
                _(
                    "Someone, we hope you, asked to see the data tied to this address: follow the link to see it, "
                    "download it, take back a consent or have it all erased."
                ),
                _("The link works once, for %(hours)s hours.", hours=LINK_HOURS),
            ],
            action_label=_("See my data"),
            action_url=public_url("privacy.follow_link", token=link_token(row)),
            footer=_("If it was not you, ignore this e-mail: nothing is shown or changed without the link."),
        )
