"""Erasure: a supporter's data goes, their acts stay as anonymous counts.

What goes: the tokens (revoked at the network first), handles, remote ids and display names of their
accounts; their consents; their subscriptions' addresses; pledges not yet released; the texts, links
and handles of their posts and actions; their data requests. What stays: rows emptied of all that, so
that every tally, reach figure and wave count reads the same before and after (the erasure test holds
`tallies.rebuild` equal to the tallies afterwards too). An erased visitor's actions carry a fresh id of
their own, the same for all of them, so people are still counted once.

Safe to run twice (what was erased is not found again) and while a post is being delivered: the row is
taken from its worker (cancelled, which the worker's conditional record then leaves alone), and the
account's row stays, so a worker's last write to it finds a row.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from analytics.models import PostReply
from campaign.models import Action
from campaign.tallies import SupporterTally, folded_upto_locked
from database import changed
from extensions import db
from privacy.models import DATA_LINK, DataRequest
from privacy.subject import ERASED_PREFIX, Subject, accounts, actions, data_requests, live_supporters, pledges, posts
from privacy.subject import subscriptions as find_subscriptions
from scheduler.models import Delivery, DeliveryState
from scheduler.outbox import cancel_for_account, cancel_refs
from supporters.models import AccountState, Consent
from supporters.services import revoke_quietly
from waves.models import CONFIRM, REMINDER, Pledge, PledgeState, Reminder, Subscription, SubscriptionState

ERASED_REASON = "erased at the supporter's request or by retention"


@dataclass(frozen=True)
class Erased:
    accounts: int = 0
    revoked_at_network: int = 0
    subscriptions: int = 0
    pledges: int = 0
    posts: int = 0
    actions: int = 0

    @property
    def anything(self) -> bool:
        return any((self.accounts, self.subscriptions, self.pledges, self.posts, self.actions))


def erase(subject: Subject, now: datetime) -> Erased:
    """Erase what is held about `subject` (see the module). Flushes; the caller commits."""
    if not subject:
        return Erased()
    folded_upto_locked()  # no fold re-keys a visitor's counts while this one does (a row lock on PostgreSQL)
    held_accounts = accounts(subject)
    revoked = sum(revoke_quietly(account) for account in held_accounts)
    for account in held_accounts:
        cancel_for_account(account.id, ERASED_REASON, now)
    held_pledges = pledges(subject)
    pledge_ids = [pledge.id for pledge in held_pledges]  # read now: the actions' bulk update expires the session
    held_posts = posts([account.id for account in held_accounts], held_pledges)
    post_ids = [delivery.id for delivery in held_posts]
    held_actions = actions(subject, post_ids)
    _empty_posts(post_ids, now)
    _empty_actions(subject, held_actions)
    for account in held_accounts:
        account.handle = account.remote_id = account.display_name = account.instance = ""
        account.sealed_tokens, account.token_expires_at = "", None
        account.state, account.rate_remaining, account.rate_reset_at = AccountState.ERASED, None, None
    gone = _drop_pledges(pledge_ids)
    held_subscriptions = find_subscriptions(subject)
    _empty_subscriptions(held_subscriptions, now)
    _drop_requests(data_requests(subject))
    db.session.execute(delete(Consent).where(Consent.supporter_id.in_(sorted(subject.supporter_ids))))
    for supporter in live_supporters(subject):
        supporter.erased_at, supporter.language = now, ""
    db.session.flush()
    return Erased(
        accounts=len(held_accounts),
        revoked_at_network=revoked,
        subscriptions=len(held_subscriptions),
        pledges=gone,
        posts=len(post_ids),
        actions=len(held_actions),
    )


def _empty_posts(post_ids: Sequence[int], now: datetime) -> None:
    if not post_ids:
        return
    # A post a worker holds is taken from it: its record is conditional on the claim, so it writes nothing.
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(post_ids), Delivery.state == DeliveryState.SENDING)
        .values(state=DeliveryState.CANCELLED, claimed_at=None, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(post_ids))
        .values(text="", remote_id="", remote_url="", error="")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(PostReply)
        .where(PostReply.delivery_id.in_(post_ids))
        .values(text="", url="")
        .execution_options(synchronize_session=False)
    )


def _empty_actions(subject: Subject, held: Sequence[Action]) -> None:
    """The actions' words and handles go; a visitor's actions take one fresh id, in the tallies too."""
    fresh = {
        vid: ERASED_PREFIX + secrets.token_hex(8)
        for vid in {action.visitor_id for action in held}
        if vid in subject.visitor_ids and not vid.startswith(ERASED_PREFIX)
    }
    for old, new in fresh.items():
        db.session.execute(
            update(Action)
            .where(Action.visitor_id == old)
            .values(visitor_id=new)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(SupporterTally)
            .where(SupporterTally.visitor_id == old)
            .values(visitor_id=new)
            .execution_options(synchronize_session=False)
        )
    ids = [action.id for action in held]
    for start in range(0, len(ids), 500):
        db.session.execute(
            update(Action)
            .where(Action.id.in_(ids[start : start + 500]))
            .values(text="", author_handle=None, confirmed_url="")
            .execution_options(synchronize_session=False)
        )
    db.session.expire_all()


def _drop_pledges(pledge_ids: Sequence[int]) -> int:
    """Pledges not yet released go (a conditional delete: the release and this never both win); the rest
    keep their row, emptied of its text."""
    if not pledge_ids:
        return 0
    gone = db.session.execute(
        delete(Pledge)
        .where(Pledge.id.in_(pledge_ids), Pledge.state.in_([PledgeState.PLEDGED, PledgeState.CANCELLED]))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Pledge)
        .where(Pledge.id.in_(pledge_ids))
        .values(text="", reason="")
        .execution_options(synchronize_session=False)
    )
    return changed(gone)


def _empty_subscriptions(held: Sequence[Subscription], now: datetime) -> None:
    """The address goes; the row stays (its reminders are counted on the wave's page)."""
    if not held:
        return
    ids = [subscription.id for subscription in held]
    reminder_ids = db.session.scalars(select(Reminder.id).where(Reminder.subscription_id.in_(ids))).all()
    cancel_refs(REMINDER, reminder_ids, ERASED_REASON, now)
    cancel_refs(CONFIRM, ids, ERASED_REASON, now)
    for kind, refs in ((REMINDER, reminder_ids), (CONFIRM, ids)):
        if refs:
            db.session.execute(
                update(Delivery)
                .where(Delivery.kind == kind, Delivery.ref_id.in_(refs))
                .values(error="", remote_id="")
                .execution_options(synchronize_session=False)
            )
    for subscription in held:
        subscription.email = f"erased-{subscription.id}"
        subscription.state = SubscriptionState.ERASED
        subscription.bounce_reason, subscription.shared_at = "", None
        subscription.visitor_id, subscription.supporter_id = "", None
    db.session.flush()


def erase_subscriptions(subscription_ids: Sequence[int], now: datetime) -> None:
    """Erase these subscriptions' addresses (retention: bounced, or past their period). Flushes."""
    held = db.session.scalars(
        select(Subscription).where(
            Subscription.id.in_(list(subscription_ids)), Subscription.state != SubscriptionState.ERASED
        )
    ).all()
    _empty_subscriptions(held, now)
    emails = frozenset(subscription.email for subscription in held)
    _drop_requests(data_requests(Subject(emails=emails))) if emails else None


def _drop_requests(held: Sequence[DataRequest]) -> None:
    ids = [request.id for request in held]
    if not ids:
        return
    db.session.execute(
        update(Delivery)
        .where(Delivery.kind == DATA_LINK, Delivery.ref_id.in_(ids))
        .values(error="", remote_id="")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(DataRequest).where(DataRequest.id.in_(ids)))
