"""A campaign's targets: which recipients it aims at, who to show next, and which variant."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import replace

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload

from campaign.choice import rotate
from campaign.models import Action, Campaign, CampaignTarget, Message, TargetChange, Variant
from campaign.rendering import RenderError, TargetContext, render
from campaign.tallies import folded_upto
from channels import Network
from extensions import db
from recipients.labels import role_label
from recipients.models import Recipient, RecipientList, TargetRole
from recipients.places import department_label, group_label
from recipients.salutations import salutation
from recipients.services import TargetFilter, select_targets

# How many of the least-contacted targets to draw from: enough for ties, small enough to stay an index read.
CANDIDATES = 64


# Targets the demo invents: a campaign reaches them only through a static list that holds them (the demo's),
# never through filters, so the fictitious deputies never join a real campaign.
DEMO_SOURCE = "demo"
# How many names a logged change of targets keeps, of those added and of those removed.
CHANGE_NAMES = 8


def target_filter(campaign: Campaign) -> TargetFilter:
    """The campaign's list and filters, over active targets."""
    chosen = TargetFilter.from_criteria(campaign.target_criteria or {})
    return replace(chosen, recipient_list_id=campaign.recipient_list_id, activity="active")


def has_chosen_targets(campaign: Campaign) -> bool:
    """Whether the organiser chose a list or a filter: a campaign without aims at no one."""
    return not target_filter(campaign).is_empty


def _chosen_list(campaign: Campaign) -> RecipientList | None:
    """The campaign's list by its id (the relationship may be stale right after the id changed)."""
    return db.session.get(RecipientList, campaign.recipient_list_id) if campaign.recipient_list_id else None


def describe_targets(campaign: Campaign) -> list[tuple[str, str]]:
    """The organiser's choice in words, (what, which) pairs: the list, then each filter."""
    chosen = target_filter(campaign)
    described: list[tuple[str, str]] = []
    target_list = _chosen_list(campaign)
    if target_list is not None:
        kind = _("dynamic list") if target_list.is_dynamic else _("static list")
        described.append((_("List"), f"{target_list.name} ({kind})"))
    if chosen.roles:
        described.append((_("Role"), ", ".join(role_label(role) for role in chosen.roles)))
    if chosen.chamber:
        described.append((_("Chamber"), chosen.chamber))
    if chosen.groups:
        described.append((_("Group"), ", ".join(group_label(g) for g in chosen.groups)))
    if chosen.departments:
        described.append((_("Department"), ", ".join(department_label(d) for d in chosen.departments)))
    if chosen.committee:
        described.append((_("Committee"), chosen.committee))
    if chosen.network is not None:
        described.append((_("Has an address on"), chosen.network.label))
    return described


def eligible_recipients(campaign: Campaign) -> list[Recipient]:
    """Targets that pass the campaign's list and filters and can be reached on one of its networks."""
    chosen = target_filter(campaign)
    if chosen.is_empty:
        return []
    query = select_targets(campaign.organisation_id, chosen)
    target_list = _chosen_list(campaign)
    if target_list is None or target_list.is_dynamic:
        query = query.where(Recipient.source != DEMO_SOURCE)
    networks = campaign.enabled_networks
    return [r for r in db.session.scalars(query) if any(r.handle(network) for network in networks)]


def sync_targets(campaign: Campaign, *, log: bool = False) -> int:
    """Make the campaign's target rows match its list, filters and networks; returns how many there are.

    Counts survive: a target that leaves and comes back gets its count recomputed from its actions.
    With `log` (a change from elsewhere: an import, a list edited), what changed is kept for the campaign's
    page to show.
    """
    wanted = {r.id for r in eligible_recipients(campaign)}
    current = set(
        db.session.scalars(select(CampaignTarget.recipient_id).where(CampaignTarget.campaign_id == campaign.id))
    )
    gone = current - wanted
    if log and (gone or wanted - current):
        _log_change(campaign, wanted - current, gone)
    if gone:
        db.session.execute(
            delete(CampaignTarget).where(
                CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id.in_(gone)
            )
        )
    new = wanted - current
    if new:
        rows = db.session.execute(
            select(Action.recipient_id, func.count())
            # Folded actions only: the others join the count at the next fold.
            .where(Action.campaign_id == campaign.id, Action.recipient_id.in_(new), Action.id <= folded_upto())
            .group_by(Action.recipient_id)
        ).tuples()
        counts = {recipient_id: count for recipient_id, count in rows}
        db.session.add_all(
            CampaignTarget(campaign_id=campaign.id, recipient_id=rid, action_count=counts.get(rid, 0)) for rid in new
        )
    db.session.flush()
    return len(wanted)


def _log_change(campaign: Campaign, added: set[int], removed: set[int]) -> None:
    def names(ids: set[int]) -> list[str]:
        if not ids:
            return []
        query = select(Recipient).where(Recipient.id.in_(list(ids))).order_by(Recipient.last_name, Recipient.first_name)
        return [r.name for r in db.session.scalars(query.limit(CHANGE_NAMES))]

    db.session.add(
        TargetChange(
            campaign_id=campaign.id,
            added=len(added),
            removed=len(removed),
            names={"added": names(added), "removed": names(removed)},
        )
    )


def pick_target(
    campaign: Campaign,
    *,
    exclude: Collection[int] = (),
    constituency_codes: Sequence[str] = (),
    among: Collection[int] | None = None,
    rng: random.Random | None = None,
) -> CampaignTarget | None:
    """The least-contacted target not in `exclude` (ties at random), or the deputy of a constituency;
    only from `among` when given (a wave's targets).
    """
    rng = rng or random.Random()  # noqa: S311 (spreading load over targets, not a secret)
    query = (
        select(CampaignTarget)
        .where(CampaignTarget.campaign_id == campaign.id)
        .options(joinedload(CampaignTarget.recipient))  # the page shows it: one query, not two
    )
    if exclude:
        query = query.where(CampaignTarget.recipient_id.not_in(list(exclude)))
    if among is not None:
        query = query.where(CampaignTarget.recipient_id.in_(list(among)))
    if constituency_codes:  # postcodes lead to deputies; a senator with the same code is not "my deputy"
        query = query.join(Recipient, Recipient.id == CampaignTarget.recipient_id).where(
            Recipient.role == TargetRole.DEPUTY, Recipient.constituency_code.in_(constituency_codes)
        )
    candidates = list(db.session.scalars(query.order_by(CampaignTarget.action_count).limit(CANDIDATES)))
    if not candidates:
        return None
    fewest = candidates[0].action_count
    return rng.choice([c for c in candidates if c.action_count == fewest])


def reachable(recipient_ids: Collection[int], network: Network) -> set[int]:
    """Those of `recipient_ids` who have an account on `network`."""
    column = Recipient.handle_column(network)
    return set(
        db.session.scalars(
            select(Recipient.id).where(Recipient.id.in_(list(recipient_ids)), column.is_not(None), column != "")
        )
    )


def active_variants(campaign: Campaign, message_ids: Collection[int] | None = None) -> list[Variant]:
    """The campaign's active variants (of these messages only, for a wave)."""
    query = (
        select(Variant)
        .join(Message, Message.id == Variant.message_id)
        .where(Message.campaign_id == campaign.id, Variant.is_active.is_(True))
        .order_by(Variant.id)
    )
    if message_ids is not None:
        query = query.where(Message.id.in_(list(message_ids)))
    return list(db.session.scalars(query))


def next_variant(variants: Sequence[Variant], target: CampaignTarget) -> Variant | None:
    """The variant after the one this target got last, so no target gets the same text twice in a row.

    A target with no history starts at an offset of its own, so first messages spread over variants.
    """
    return rotate(variants, target.recipient_id, target.last_variant_id)


def target_context(recipient: Recipient, language: str) -> TargetContext:
    return TargetContext(
        name=recipient.name,
        salutation=salutation(
            role=recipient.role,
            gender=recipient.gender,
            language=language,
            first_name=recipient.first_name,
            last_name=recipient.last_name,
            override=recipient.salutation,
        ),
        title=recipient.title,
        constituency=recipient.constituency,
        handles={network: handle for network in Network if (handle := recipient.handle(network))},
    )


def campaign_text(campaign: Campaign, body: str, target: TargetContext, network: Network) -> str:
    """A variant's final text for one target on one network, with the campaign's hashtags and link.

    Raises RenderError (see `render`).
    """
    return render(body, target, network, hashtags=campaign.hashtags, link=campaign.link)


def variant_text(campaign: Campaign, variant: Variant, target: TargetContext, network: Network) -> str:
    """What `variant` says to `target` on `network` (the message's letter by e-mail). Raises RenderError,
    also when the message has no e-mail."""
    template = variant.template_for(network)
    if not template.strip():
        raise RenderError(f"no text for {network.label}")
    return campaign_text(campaign, template, target, network)


def email_subject(campaign: Campaign, variant: Variant, target: TargetContext) -> str:
    """The subject of the message's e-mail to `target` (the campaign's title when it has none)."""
    subject = variant.message.email_subject or campaign.title
    try:
        return " ".join(campaign_text(campaign, subject, target, Network.EMAIL).split())
    except RenderError:
        return campaign.title
