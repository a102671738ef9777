"""Retention, enforced: each organisation's periods (its settings page) applied by a daily job.

- supporters inactive for `retention_supporter_months` after the campaigns they acted in have ended are
  erased as on request (`privacy.erasure`): per visitor for the organisation's campaigns; a connected
  account, shared by every organisation of the instance, once its last consent is older than the longest
  period of them all;
- subscriptions never confirmed are dropped after `retention_pending_days`, bounced addresses erased after
  `retention_bounced_months`;
- imported files still held after `retention_import_days` are dropped;
- the audit log, the data requests and the staff e-mails' outbox rows after `retention_log_months`;
  invitations that expired or were withdrawn, and ended sessions, after thirty days.

`plan` says what a run would remove now (the settings page shows it); `run` removes it. Safe to run twice
or concurrently: each step selects what is past its period and is idempotent (erased rows are not found
again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from accounts import audit
from accounts.audit import Act
from accounts.models import AuditEvent, Invitation, Organisation, StaffSession
from accounts.sessions import KEPT_ENDED
from accounts.staff import INVITATION, PASSWORD_RESET
from campaign.models import Action, Campaign, CampaignStatus
from database import utcnow
from extensions import db
from privacy.erasure import erase, erase_subscriptions
from privacy.models import DATA_LINK, DataRequest
from privacy.subject import ERASED_PREFIX, Subject
from recipients.models import ImportRun, ImportState
from scheduler.models import Delivery, DeliveryState
from supporters.models import Consent, SocialAccount, Supporter
from waves.models import CONFIRM, Reminder, Subscription, SubscriptionState

ENDED_KEPT = KEPT_ENDED  # invitations expired or withdrawn, sessions ended: listed this long, then dropped
STAFF_MAIL_KINDS = (INVITATION, PASSWORD_RESET, DATA_LINK)


def months_before(now: datetime, months: int) -> datetime:
    return now - timedelta(days=round(months * 30.44))


@dataclass
class Plan:
    """What a run removes for one organisation (the instance's accounts are counted on every one's plan)."""

    visitors: list[str] = field(default_factory=list)
    supporters: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    bounced: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # subscriptions to campaigns ended past the supporter period
    imports: list[int] = field(default_factory=list)
    invitations: list[int] = field(default_factory=list)
    audit_events: int = 0
    data_requests: int = 0

    @property
    def is_empty(self) -> bool:
        return not (
            self.visitors
            or self.supporters
            or self.pending
            or self.bounced
            or self.ended
            or self.imports
            or self.invitations
            or self.audit_events
            or self.data_requests
        )


def plan(organisation: Organisation, now: datetime) -> Plan:
    supporter_cutoff = months_before(now, organisation.retention_supporter_months)
    log_cutoff = months_before(now, organisation.retention_log_months)
    ours = select(Campaign.id).where(Campaign.organisation_id == organisation.id)
    return Plan(
        visitors=_inactive_visitors(organisation, now),
        supporters=inactive_supporters(now),
        pending=list(
            db.session.scalars(
                select(Subscription.id).where(
                    Subscription.campaign_id.in_(ours),
                    Subscription.state == SubscriptionState.PENDING,
                    func.coalesce(Subscription.confirm_sent_at, Subscription.created_at)
                    < now - timedelta(days=organisation.retention_pending_days),
                )
            )
        ),
        bounced=list(
            db.session.scalars(
                select(Subscription.id).where(
                    Subscription.campaign_id.in_(ours),
                    Subscription.state == SubscriptionState.BOUNCED,
                    Subscription.bounced_at < months_before(now, organisation.retention_bounced_months),
                )
            )
        ),
        ended=_ended_subscriptions(organisation, supporter_cutoff),
        imports=list(
            db.session.scalars(
                select(ImportRun.id).where(
                    ImportRun.organisation_id == organisation.id,
                    ImportRun.created_at < now - timedelta(days=organisation.retention_import_days),
                    (func.length(ImportRun.data) > 0) | (func.length(ImportRun.extra_data) > 0),
                )
            )
        ),
        invitations=list(
            db.session.scalars(
                select(Invitation.id).where(
                    Invitation.organisation_id == organisation.id,
                    Invitation.accepted_at.is_(None),
                    func.coalesce(Invitation.revoked_at, Invitation.expires_at) < now - ENDED_KEPT,
                )
            )
        ),
        audit_events=int(
            db.session.scalar(
                select(func.count()).where(
                    AuditEvent.organisation_id == organisation.id, AuditEvent.created_at < log_cutoff
                )
            )
            or 0
        ),
        data_requests=int(
            db.session.scalar(
                select(func.count()).where(
                    DataRequest.organisation_id == organisation.id, DataRequest.created_at < log_cutoff
                )
            )
            or 0
        ),
    )


def _inactive_visitors(organisation: Organisation, now: datetime) -> list[str]:
    """Visitors of the organisation's campaigns none of whose actions, for any organisation, is still within
    its organisation's period or in a campaign that has not ended (their counts stay; their words go)."""
    cutoffs = db.session.execute(select(Organisation.id, Organisation.retention_supporter_months)).tuples()
    recent = or_(
        *[
            (Campaign.organisation_id == organisation_id) & (Action.created_at >= months_before(now, months))
            for organisation_id, months in cutoffs
        ]
    )
    still = (
        select(Action.visitor_id)
        .join(Campaign, Campaign.id == Action.campaign_id)
        .where((Campaign.status != CampaignStatus.ENDED) | recent)
    )
    ours = Campaign.organisation_id == organisation.id
    return list(
        db.session.scalars(
            select(Action.visitor_id)
            .join(Campaign, Campaign.id == Action.campaign_id)
            .where(ours, ~Action.visitor_id.startswith(ERASED_PREFIX), Action.visitor_id.not_in(still))
            .distinct()
        )
    )


def _ended_subscriptions(organisation: Organisation, cutoff: datetime) -> list[int]:
    """Subscriptions to the organisation's ended campaigns, quiet since `cutoff`."""
    last = func.coalesce(Subscription.unsubscribed_at, Subscription.confirmed_at, Subscription.created_at)
    return list(
        db.session.scalars(
            select(Subscription.id)
            .join(Campaign, Campaign.id == Subscription.campaign_id)
            .where(
                Campaign.organisation_id == organisation.id,
                Campaign.status == CampaignStatus.ENDED,
                Subscription.state.in_([SubscriptionState.CONFIRMED, SubscriptionState.UNSUBSCRIBED]),
                last < cutoff,
            )
        )
    )


def inactive_supporters(now: datetime) -> list[int]:
    """Supporters with accounts whose last consent is older than the longest supporter period of any
    organisation (an account serves them all), and who have no pledge waiting."""
    longest = db.session.scalar(select(func.max(Organisation.retention_supporter_months)))
    if longest is None:
        return []
    cutoff = months_before(now, int(longest))
    recent = select(Consent.supporter_id).where(Consent.created_at >= cutoff)
    connected = select(SocialAccount.supporter_id).where(SocialAccount.connected_at >= cutoff)
    return list(
        db.session.scalars(
            select(Supporter.id).where(
                Supporter.erased_at.is_(None),
                Supporter.created_at < cutoff,
                Supporter.id.not_in(recent),
                Supporter.id.not_in(connected),
            )
        )
    )


def apply(organisation: Organisation, chosen: Plan, now: datetime) -> None:
    """Remove what `chosen` lists (computed by `plan` at `now`). Flushes."""
    log_cutoff = months_before(now, organisation.retention_log_months)
    if chosen.visitors or chosen.supporters:
        erase(Subject(visitor_ids=frozenset(chosen.visitors), supporter_ids=frozenset(chosen.supporters)), now)
    if chosen.pending:
        # Never confirmed since it was last asked: it goes, unless an earlier confirmation had reminders sent to
        # it (asked again after an unsubscription), whose counts its emptied row keeps.
        reminded = set(
            db.session.scalars(select(Reminder.subscription_id).where(Reminder.subscription_id.in_(chosen.pending)))
        )
        gone = [subscription_id for subscription_id in chosen.pending if subscription_id not in reminded]
        db.session.execute(delete(Delivery).where(Delivery.kind == CONFIRM, Delivery.ref_id.in_(gone)))
        db.session.execute(delete(Subscription).where(Subscription.id.in_(gone)))
        erase_subscriptions(sorted(reminded), now)
    if chosen.bounced or chosen.ended:
        erase_subscriptions([*chosen.bounced, *chosen.ended], now)
    if chosen.imports:
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id.in_(chosen.imports))
            .values(data=b"", extra_data=b"")
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id.in_(chosen.imports), ImportRun.state.not_in([ImportState.DONE, ImportState.FAILED]))
            .values(state=ImportState.DISCARDED, finished_at=now)
            .execution_options(synchronize_session=False)
        )
    if chosen.invitations:
        db.session.execute(delete(Invitation).where(Invitation.id.in_(chosen.invitations)))
    db.session.execute(
        delete(AuditEvent).where(AuditEvent.organisation_id == organisation.id, AuditEvent.created_at < log_cutoff)
    )
    old_requests = select(DataRequest.id).where(
        DataRequest.organisation_id == organisation.id, DataRequest.created_at < log_cutoff
    )
    db.session.execute(delete(Delivery).where(Delivery.kind == DATA_LINK, Delivery.ref_id.in_(old_requests)))
    db.session.execute(delete(DataRequest).where(DataRequest.id.in_(old_requests.scalar_subquery())))
    db.session.flush()


def purge_instance(now: datetime) -> None:
    """What belongs to no one organisation: ended staff sessions, finished staff e-mails past the shortest
    log period (they hold no address, but say who asked for a reset). Flushes."""
    db.session.execute(delete(StaffSession).where(StaffSession.ended_at < now - ENDED_KEPT))
    shortest = db.session.scalar(select(func.min(Organisation.retention_log_months))) or 12
    db.session.execute(
        delete(Delivery).where(
            Delivery.kind.in_([INVITATION, PASSWORD_RESET]),
            Delivery.state.not_in([DeliveryState.QUEUED, DeliveryState.SENDING]),
            Delivery.created_at < months_before(now, int(shortest)),
        )
    )


def run_retention(now: datetime | None = None) -> int:
    """The daily job: every organisation's plan, applied and logged, one transaction each."""
    now = now or utcnow()
    done = 0
    for organisation_id in list(db.session.scalars(select(Organisation.id).order_by(Organisation.id))):
        organisation = db.session.get_one(Organisation, organisation_id)
        chosen = plan(organisation, now)
        if not chosen.is_empty:
            apply(organisation, chosen, now)
            audit.record(
                Act.RETENTION_RUN,
                organisation_id=organisation.id,
                subject=organisation.name,
                detail=summary(chosen),
                client="",
                now=now,
            )
            done += 1
        db.session.commit()
    purge_instance(now)
    db.session.commit()
    return done


def summary(chosen: Plan) -> str:
    counts = {
        "visitors": len(chosen.visitors),
        "accounts": len(chosen.supporters),
        "pending": len(chosen.pending),
        "bounced": len(chosen.bounced),
        "ended": len(chosen.ended),
        "imports": len(chosen.imports),
        "invitations": len(chosen.invitations),
        "audit": chosen.audit_events,
        "requests": chosen.data_requests,
    }
    return " ".join(f"{name}={count}" for name, count in counts.items())
