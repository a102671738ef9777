"""The campaign builder's rules: campaigns, messages and variants, checks, publishing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import exists, select

from campaign.labels import status_label
from campaign.models import Action, Campaign, CampaignStatus, Message, Variant
from campaign.rendering import PLACEHOLDERS, RenderError, TargetContext, unknown_placeholders
from campaign.targets import campaign_text, eligible_recipients, sync_targets, target_context
from channels import Network, check_length
from database import utcnow
from extensions import db
from recipients.models import Recipient

# Placeholder values that stand in for a target when a campaign has none yet: long on purpose.
SAMPLE_TARGET = TargetContext(
    name="Marie-Christine Dupont-Lefèvre",
    salutation="Madame la Députée",
    title="Députée",
    constituency="Haute-Garonne (10e circonscription)",
    handles={
        Network.X: "MCDupontLefevre",
        Network.BLUESKY: "mc-dupont-lefevre.bsky.social",
        Network.MASTODON: "mcdupontlefevre@mastodon.social",
        Network.EMAIL: "marie-christine.dupont-lefevre@assemblee-nationale.fr",
    },
)
TRANSITIONS = {
    CampaignStatus.DRAFT: {CampaignStatus.LIVE, CampaignStatus.ENDED},
    CampaignStatus.LIVE: {CampaignStatus.PAUSED, CampaignStatus.ENDED},
    CampaignStatus.PAUSED: {CampaignStatus.LIVE, CampaignStatus.ENDED},
    CampaignStatus.ENDED: set(),
}


class CampaignError(ValueError):
    """A builder operation refused, with the reason to show the organiser."""


def slugify(text: str) -> str:
    """'Livre blanc : l'ESS !' → 'livre-blanc-l-ess'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "campaign"


def slug_taken(slug: str, *, except_id: int | None = None) -> bool:
    query = select(exists().where(Campaign.slug == slug, Campaign.id != (except_id or 0)))
    return bool(db.session.scalar(query))


def free_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever is free first (a suggestion for the organiser)."""
    candidate, number = base, 2
    while slug_taken(candidate):
        candidate = f"{base[:74]}-{number}"
        number += 1
    return candidate


def save_campaign(campaign: Campaign, **fields: object) -> Campaign:
    """Create or update a campaign from the builder's fields. Raises CampaignError on a taken slug.

    An empty slug keeps the campaign's own, or is derived from the title for a new campaign.
    """
    slug = str(fields.get("slug") or "") or campaign.slug
    if not slug:  # none typed: derive one from the title, free by construction
        slug = free_slug(slugify(str(fields.get("title") or "")))
    if slug_taken(slug, except_id=campaign.id):
        raise CampaignError(
            _("The address /c/%(slug)s is taken by another campaign; try %(free)s.", slug=slug, free=free_slug(slug))
        )
    fields["slug"] = slug
    for key, value in fields.items():
        setattr(campaign, key, value)
    if campaign.id is None:
        db.session.add(campaign)
    db.session.flush()
    sync_targets(campaign)
    return campaign


def check_body(campaign: Campaign, body: str, *, targets: Sequence[TargetContext] | None = None) -> list[str]:
    """What is wrong with a variant's text, in words for the organiser; empty when it can be used.

    Length is measured on every network the campaign uses, against each of its targets reachable
    there (or a long sample target when it has none yet), and the worst case is reported.
    """
    if not body.strip():
        return [_("The message is empty.")]
    unknown = unknown_placeholders(body)
    if unknown:
        return [
            _(
                "Unknown placeholder %(names)s. The placeholders are: %(known)s.",
                names=", ".join("{" + name + "}" for name in unknown),
                known=", ".join("{" + name + "}" for name in PLACEHOLDERS),
            )
        ]
    if targets is None:
        targets = [target_context(r, campaign.language) for r in eligible_recipients(campaign)] or [SAMPLE_TARGET]
    problems = []
    for network in campaign.enabled_networks:
        worst: tuple[int, int, str] | None = None
        for target in targets:
            if network not in target.handles:
                continue
            try:
                text = campaign_text(campaign, body, target, network)
            except RenderError:
                continue
            measured = check_length(network, text)
            if measured.over_by and (worst is None or measured.over_by > worst[0]):
                worst = (measured.over_by, measured.limit or 0, target.name)
        if worst is not None:
            problems.append(
                _(
                    "Too long for %(network)s by %(over)d characters (limit %(limit)d), for example for %(name)s.",
                    network=network.label,
                    over=worst[0],
                    limit=worst[1],
                    name=worst[2],
                )
            )
    return problems


def save_message(campaign: Campaign, message: Message | None, *, label: str, bodies: Sequence[str]) -> Message:
    """Create or update a message with its variants, in order. Empty boxes remove a variant.

    Raises CampaignError listing every problem; nothing is changed then. A variant that was
    already sent is retired rather than deleted, so its actions keep their history.
    """
    texts = [body.strip().replace("\r\n", "\n") for body in bodies]
    if not any(texts):
        raise CampaignError(_("A message needs at least one variant."))
    targets = [target_context(r, campaign.language) for r in eligible_recipients(campaign)] or [SAMPLE_TARGET]
    problems = []
    for number, text in enumerate(texts, start=1):
        if text:
            problems += [
                _("Variant %(n)d: %(problem)s", n=number, problem=p)
                for p in check_body(campaign, text, targets=targets)
            ]
    duplicates = {text for text in texts if text and texts.count(text) > 1}
    if duplicates:
        problems.append(_("Two variants have the same text; each variant must say it differently."))
    if problems:
        raise CampaignError(" ".join(problems))
    if message is None:
        message = Message(campaign=campaign, label=label.strip(), position=len(campaign.messages))
        db.session.add(message)
    message.label = label.strip()
    current = [v for v in message.variants if v.is_active]
    for index, text in enumerate(texts):
        variant = current[index] if index < len(current) else None
        if variant is None and text:
            message.variants.append(Variant(body=text))
        elif variant is not None and not text:
            retire_variant(variant)
        elif variant is not None and variant.body != text:
            if has_actions(variant):  # keep what was sent; the new text is a new variant
                retire_variant(variant)
                message.variants.append(Variant(body=text))
            else:
                variant.body = text
    for variant in current[len(texts) :]:
        retire_variant(variant)
    db.session.flush()
    return message


def has_actions(variant: Variant) -> bool:
    return bool(db.session.scalar(select(exists().where(Action.variant_id == variant.id))))


def retire_variant(variant: Variant) -> None:
    if has_actions(variant):
        variant.is_active = False
    else:
        db.session.delete(variant)


def delete_message(message: Message) -> None:
    for variant in list(message.variants):
        retire_variant(variant)
    db.session.flush()
    if not message.variants:
        db.session.delete(message)
    db.session.flush()


def publish_problems(campaign: Campaign, recipients: Sequence[Recipient] | None = None) -> list[str]:
    """Why the campaign cannot go live, in words for the organiser; empty when it can.

    `recipients` are the campaign's eligible targets when the caller has them already.
    """
    problems = []
    if not campaign.enabled_networks:
        problems.append(_("Choose at least one network."))
    if recipients is None:
        recipients = eligible_recipients(campaign)
    if not recipients:
        networks = ", ".join(n.label for n in campaign.enabled_networks) or "-"
        problems.append(
            _(
                "No target can be reached: none of the targets chosen by the list and filters has an "
                "address on the networks this campaign uses (%(networks)s).",
                networks=networks,
            )
        )
    variants = [v for m in campaign.messages for v in m.variants if v.is_active]
    if not variants:
        problems.append(_("Write at least one message."))
    targets = [target_context(r, campaign.language) for r in recipients]
    for variant in variants:
        for problem in check_body(campaign, variant.body, targets=targets or None):
            problems.append(_("Message “%(label)s”: %(problem)s", label=variant.message.label, problem=problem))
    return problems


def change_status(campaign: Campaign, status: CampaignStatus) -> None:
    """Move a campaign through draft → live ⇄ paused → ended. Raises CampaignError with the reasons."""
    if status not in TRANSITIONS[campaign.status]:
        raise CampaignError(
            _(
                "A campaign cannot go from %(old)s to %(new)s.",
                old=status_label(campaign.status),
                new=status_label(status),
            )
        )
    if status is CampaignStatus.LIVE:
        sync_targets(campaign)
        problems = publish_problems(campaign)
        if problems:
            raise CampaignError(" ".join(problems))
        campaign.published_at = campaign.published_at or utcnow()
    campaign.status = status
    db.session.flush()
