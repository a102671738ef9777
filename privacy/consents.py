"""The consents a supporter can take back, each on its own: an account's leave to post on their click, a
pledged post, a subscription to a campaign's waves, the leave for the organisers to have their address."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from campaign.models import Campaign, Wave
from extensions import db
from privacy.subject import Subject, accounts, pledges, subscriptions
from supporters.services import disconnect
from waves.models import PledgeState, SubscriptionState
from waves.pledges import withdraw_pledge


class ConsentType(enum.StrEnum):
    ACCOUNT = "account"
    PLEDGE = "pledge"
    SUBSCRIPTION = "subscription"
    SHARING = "sharing"


@dataclass(frozen=True)
class Standing:
    """A consent in force, as the privacy page lists it."""

    type: ConsentType
    id: int
    what: str
    since: datetime | None


def standing(subject: Subject) -> list[Standing]:
    found: list[Standing] = []
    for account in accounts(subject):
        found.append(
            Standing(
                ConsentType.ACCOUNT,
                account.id,
                _(
                    "Posting on your click through %(handle)s on %(network)s",
                    handle=account.label,
                    network=account.network.label,
                ),
                account.connected_at,
            )
        )
    for pledge in pledges(subject):
        if pledge.state is PledgeState.PLEDGED:
            wave = db.session.get(Wave, pledge.wave_id)
            found.append(
                Standing(
                    ConsentType.PLEDGE,
                    pledge.id,
                    _(
                        "A post pledged for the wave “%(wave)s”: %(text)s",
                        wave=wave.title if wave else "",
                        text=pledge.text,
                    ),
                    pledge.created_at,
                )
            )
    for subscription in subscriptions(subject):
        if subscription.state in (SubscriptionState.PENDING, SubscriptionState.CONFIRMED):
            campaign = db.session.get(Campaign, subscription.campaign_id)
            title = campaign.title if campaign else ""
            found.append(
                Standing(
                    ConsentType.SUBSCRIPTION,
                    subscription.id,
                    _("E-mails at %(email)s about the waves of “%(title)s”", email=subscription.email, title=title),
                    subscription.confirmed_at or subscription.created_at,
                )
            )
            if subscription.shared_at is not None:
                found.append(
                    Standing(
                        ConsentType.SHARING,
                        subscription.id,
                        _("The organisers of “%(title)s” may have %(email)s", title=title, email=subscription.email),
                        subscription.shared_at,
                    )
                )
    return found


def withdraw(subject: Subject, type_: ConsentType, row_id: int, now: datetime) -> bool:
    """Take one consent back, if it is the person's and still in force. Flushes."""
    if type_ is ConsentType.ACCOUNT:
        for account in accounts(subject):
            if account.id == row_id:
                disconnect(account, now=now)
                return True
    elif type_ is ConsentType.PLEDGE:
        for pledge in pledges(subject):
            if pledge.id == row_id:
                return withdraw_pledge(pledge)
    else:
        for subscription in subscriptions(subject):
            if subscription.id != row_id:
                continue
            if type_ is ConsentType.SHARING and subscription.shared_at is not None:
                subscription.shared_at = None
                db.session.flush()
                return True
            if type_ is ConsentType.SUBSCRIPTION and subscription.state in (
                SubscriptionState.PENDING,
                SubscriptionState.CONFIRMED,
            ):
                subscription.state, subscription.unsubscribed_at = SubscriptionState.UNSUBSCRIBED, now
                db.session.flush()
                return True
    return False
