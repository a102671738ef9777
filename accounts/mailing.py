"""The staff's e-mails, sent by the outbox: an invitation, a password reset link.

The link is signed when the e-mail is written (nothing secret waits in a row), in the organisation's
language, from its sender name. A reset asked for an address without an account is a row too (see
`staff.request_reset`): its handler sends nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

import mail
from accounts.models import Invitation, Organisation, User
from accounts.organisations import sender_of
from accounts.staff import RESET_MINUTES, invitation_token, reset_token
from channels.api import PostResult
from channels.errors import ChannelError, ErrorKind
from extensions import db
from scheduler.models import Delivery
from urls import public_url


def send_notice(
    *,
    to: str,
    organisation: Organisation | None,
    language: str,
    key: str,
    subject: str,
    heading: str,
    lines: list[str],
    action_label: str,
    action_url: str,
    footer: str,
) -> PostResult:
    """Send a short e-mail with one link (`templates/email/notice`). Raises ChannelError."""
    message = mail.compose(
        to=to,
        subject=subject,
        template="email/notice",
        language=language,
        key=key,
        sender=sender_of(organisation),
        heading=heading,
        lines=lines,
        action_label=action_label,
        action_url=action_url,
        footer=footer,
    )
    mail.send(message)
    return PostResult(message.message_id, "")


def local_time(moment: datetime, organisation: Organisation) -> str:
    """A moment as the organisation's people read it: their language, their clock."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return format_datetime(
        aware,
        "d MMMM y, HH:mm",
        tzinfo=ZoneInfo(organisation.timezone or current_app.config["TIMEZONE"]),
        locale=organisation.language,
    )


def deliver_invitation(delivery: Delivery, now: datetime) -> PostResult:
    invitation = db.session.get(Invitation, delivery.ref_id)
    if invitation is None or not invitation.is_open(now):
        raise ChannelError(ErrorKind.REJECTED, "the invitation was withdrawn or has expired")
    organisation = db.session.get_one(Organisation, invitation.organisation_id)
    language = organisation.language
    with force_locale(language):
        return send_notice(
            to=invitation.email,
            organisation=organisation,
            language=language,
            key=delivery.idempotency_key,
            subject=_("You are invited to join %(name)s on Porte-voix", name=organisation.name),
            heading=_("Join %(name)s on Porte-voix", name=organisation.name),
            lines=[
                _(
                    "You are invited to run campaigns with %(name)s on Porte-voix. Follow the link to choose your "
                    "password.",
                    name=organisation.name,
                ),
                _("The link works once, until %(when)s.", when=local_time(invitation.expires_at, organisation)),
            ],
            action_label=_("Accept the invitation"),
            action_url=public_url("staff.accept_invitation", token=invitation_token(invitation)),
            footer=_("If you did not expect this invitation, ignore this e-mail: nothing happens without you."),
        )


def deliver_reset(delivery: Delivery, now: datetime) -> PostResult:
    user = db.session.get(User, delivery.ref_id) if delivery.ref_id else None
    if user is None or not user.is_enabled:
        raise ChannelError(ErrorKind.REJECTED, "no account for this address")  # nothing is sent
    organisation = user.organisation
    with force_locale(organisation.language):
        return send_notice(
            to=user.email,
            organisation=organisation,
            language=organisation.language,
            key=delivery.idempotency_key,
            subject=_("Choose a new Porte-voix password"),
            heading=_("A new password"),
            lines=[
                _("Someone, we hope you, asked to reset the password of this account."),
                _("The link works once, for %(minutes)s minutes.", minutes=RESET_MINUTES),
            ],
            action_label=_("Choose a new password"),
            action_url=public_url("accounts.reset_password", token=reset_token(user)),
            footer=_("If it was not you, ignore this e-mail: your password stays as it is."),
        )
