"""Whose data a request is about, and everything held about them.

A request names its person by what proves it: the browser they used (its anonymous visitor id and, once
they connected an account, their supporter id, both in the signed session cookie), or an e-mail address
whose link they followed. A browser finds what it did and the subscriptions asked from it; an address
finds the subscriptions made with it. Neither reaches across to the other (an address typed by someone
else must not open that browser's acts to them, nor the reverse).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, select

from accounts.models import Organisation
from campaign.models import Action, Campaign, Wave
from extensions import db
from privacy.models import DataRequest
from recipients.models import Recipient
from scheduler.models import Delivery
from supporters.models import AccountState, Consent, SocialAccount, Supporter
from waves.models import Pledge, Reminder, Subscription, SubscriptionState

ERASED_PREFIX = "~"  # an erased visitor's actions carry a fresh id that starts so (no browser's id does)


@dataclass(frozen=True)
class Subject:
    visitor_ids: frozenset[str] = field(default_factory=frozenset)
    supporter_ids: frozenset[int] = field(default_factory=frozenset)
    emails: frozenset[str] = field(default_factory=frozenset)
    organisation_id: int | None = None  # a request staff handle reaches only their organisation's campaigns

    def __bool__(self) -> bool:
        return bool(self.visitor_ids or self.supporter_ids or self.emails)

    def __or__(self, other: Subject) -> Subject:
        return Subject(
            self.visitor_ids | other.visitor_ids,
            self.supporter_ids | other.supporter_ids,
            self.emails | other.emails,
        )


def _in(column: Any, values: frozenset[Any]) -> Any:
    return column.in_(sorted(values)) if values else false()


def subscriptions(subject: Subject) -> Sequence[Subscription]:
    visitors = {vid for vid in subject.visitor_ids if vid}
    query = select(Subscription).where(
        or_(
            _in(Subscription.email, subject.emails),
            _in(Subscription.visitor_id, frozenset(visitors)),
            _in(Subscription.supporter_id, subject.supporter_ids),
        ),
        Subscription.state != SubscriptionState.ERASED,
    )
    if subject.organisation_id is not None:
        ours = select(Campaign.id).where(Campaign.organisation_id == subject.organisation_id)
        query = query.where(Subscription.campaign_id.in_(ours))
    return db.session.scalars(query.order_by(Subscription.id)).all()


def accounts(subject: Subject) -> Sequence[SocialAccount]:
    return db.session.scalars(
        select(SocialAccount).where(
            _in(SocialAccount.supporter_id, subject.supporter_ids), SocialAccount.state != AccountState.ERASED
        )
    ).all()


def live_supporters(subject: Subject) -> Sequence[Supporter]:
    return db.session.scalars(
        select(Supporter).where(_in(Supporter.id, subject.supporter_ids), Supporter.erased_at.is_(None))
    ).all()


def consents(subject: Subject) -> Sequence[Consent]:
    return db.session.scalars(
        select(Consent).where(_in(Consent.supporter_id, subject.supporter_ids)).order_by(Consent.created_at)
    ).all()


def pledges(subject: Subject) -> Sequence[Pledge]:
    return db.session.scalars(
        select(Pledge).where(_in(Pledge.supporter_id, subject.supporter_ids)).order_by(Pledge.id)
    ).all()


def posts(account_ids: Sequence[int], held_pledges: Sequence[Pledge]) -> Sequence[Delivery]:
    """The posts made through the person's accounts, or released from their pledges."""
    pledged = [p.delivery_id for p in held_pledges if p.delivery_id]
    return db.session.scalars(
        select(Delivery)
        .where(or_(_in(Delivery.account_id, frozenset(account_ids)), _in(Delivery.id, frozenset(pledged))))
        .order_by(Delivery.id)
    ).all()


def actions(subject: Subject, delivery_ids: Sequence[int]) -> Sequence[Action]:
    visitors = frozenset(vid for vid in subject.visitor_ids if vid and not vid.startswith(ERASED_PREFIX))
    return db.session.scalars(
        select(Action)
        .where(or_(_in(Action.visitor_id, visitors), _in(Action.delivery_id, frozenset(delivery_ids))))
        .order_by(Action.id)
    ).all()


def data_requests(subject: Subject) -> Sequence[DataRequest]:
    query = select(DataRequest).where(_in(DataRequest.email, subject.emails))
    if subject.organisation_id is not None:
        query = query.where(DataRequest.organisation_id == subject.organisation_id)
    return db.session.scalars(query).all()


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def collect(subject: Subject) -> dict[str, Any]:
    """Everything held about the person, as plain data: the JSON download and the readable page show it."""
    held_accounts = accounts(subject)
    held_pledges = pledges(subject)
    held_posts = posts([a.id for a in held_accounts], held_pledges)
    held_actions = actions(subject, [d.id for d in held_posts])
    held_subscriptions = subscriptions(subject)
    campaigns = _names(Campaign, {a.campaign_id for a in held_actions} | {s.campaign_id for s in held_subscriptions})
    waves = {w.id: w for w in db.session.scalars(select(Wave).where(Wave.id.in_({p.wave_id for p in held_pledges})))}
    campaigns |= _names(Campaign, {w.campaign_id for w in waves.values()})
    targets = _targets({a.recipient_id for a in held_actions} | {p.recipient_id for p in held_pledges})
    reminders = db.session.scalars(
        select(Reminder).where(Reminder.subscription_id.in_([s.id for s in held_subscriptions]))
    ).all()
    return {
        "supporters": [{"created_at": _when(s.created_at), "language": s.language} for s in live_supporters(subject)],
        "connected_accounts": [
            {
                "network": a.network.value,
                "handle": a.handle,
                "instance": a.instance,
                "display_name": a.display_name,
                "followers": a.followers,
                "connected_at": _when(a.connected_at),
                "state": a.state.value,
            }
            for a in held_accounts
        ],
        "consents": [
            {
                "kind": c.kind.value,
                "network": c.network.value,
                "handle": c.handle,
                "text": c.text,
                "at": _when(c.created_at),
            }
            for c in consents(subject)
        ],
        "subscriptions": [
            {
                "campaign": campaigns.get(s.campaign_id, ""),
                "email": s.email,
                "language": s.language,
                "state": s.state.value,
                "asked_at": _when(s.created_at),
                "confirmed_at": _when(s.confirmed_at),
                "unsubscribed_at": _when(s.unsubscribed_at),
                "bounced_at": _when(s.bounced_at),
                "address_shared_with_organisers_at": _when(s.shared_at),
                "reminders": [
                    {"at": _when(r.created_at), "opened_at": _when(r.opened_at)}
                    for r in reminders
                    if r.subscription_id == s.id
                ],
            }
            for s in held_subscriptions
        ],
        "pledges": [
            {
                "campaign": campaigns.get(waves[p.wave_id].campaign_id, "") if p.wave_id in waves else "",
                "wave": waves[p.wave_id].title if p.wave_id in waves else "",
                "network": p.network.value,
                "target": targets.get(p.recipient_id, ""),
                "text": p.text,
                "state": p.state.value,
                "release_at": _when(p.release_at),
                "released_at": _when(p.released_at),
                "at": _when(p.created_at),
            }
            for p in held_pledges
        ],
        "posts": [
            {
                "network": d.network.value,
                "text": d.text,
                "state": d.state.value,
                "url": d.remote_url,
                "at": _when(d.created_at),
                "posted_at": _when(d.finished_at),
            }
            for d in held_posts
        ],
        "actions": [
            {
                "campaign": campaigns.get(a.campaign_id, ""),
                "target": targets.get(a.recipient_id, ""),
                "network": a.network.value,
                "mode": a.mode.value,
                "text": a.text,
                "at": _when(a.created_at),
                "posted_as": a.author_handle or "",
                "confirmed_at": _when(a.confirmed_at),
                "confirmed_url": a.confirmed_url,
            }
            for a in held_actions
        ],
    }


def is_empty(held: dict[str, Any]) -> bool:
    return not any(held.values())


def _names(model: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.title).where(model.id.in_(ids))).tuples().all())


def _targets(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(Recipient.id, Recipient.first_name, Recipient.last_name).where(Recipient.id.in_(ids))
    ).all()
    return {rid: f"{first} {last}".strip() for rid, first, last in rows}


def controllers(held_campaign_ids: set[int]) -> Sequence[Organisation]:
    """The organisations whose campaigns the person's data belongs to (who holds it)."""
    if not held_campaign_ids:
        return []
    return db.session.scalars(
        select(Organisation)
        .join(Campaign, Campaign.organisation_id == Organisation.id)
        .where(Campaign.id.in_(held_campaign_ids))
        .distinct()
    ).all()
