"""The campaign builder's rules: campaigns, messages and variants, checks, publishing."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import delete, exists, select

from campaign.labels import status_label
from campaign.models import Action, Campaign, CampaignSlug, CampaignStatus, Message, Variant
from campaign.rendering import PLACEHOLDERS, RenderError, TargetContext, unknown_placeholders
from campaign.signals import campaign_ended
from campaign.targets import campaign_text, eligible_recipients, has_chosen_targets, sync_targets, target_context
from channels import Network, check_length
from database import utcnow
from extensions import db
from recipients.models import Recipient
from urls import slugify

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


def slug_taken(slug: str, *, except_id: int | None = None) -> bool:
    """Whether another campaign has this address, now or before (its old addresses keep redirecting to it)."""
    other = except_id or 0
    current = exists().where(Campaign.slug == slug, Campaign.id != other)
    former = exists().where(CampaignSlug.slug == slug, CampaignSlug.campaign_id != other)
    return bool(db.session.scalar(select(current | former)))


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
    old_slug = campaign.slug
    for key, value in fields.items():
        setattr(campaign, key, value)
    if campaign.id is None:
        db.session.add(campaign)
    db.session.flush()
    if old_slug and old_slug != slug:
        _keep_old_address(campaign, old_slug)
    sync_targets(campaign)
    return campaign


def _keep_old_address(campaign: Campaign, old_slug: str) -> None:
    """A campaign whose address changed keeps answering at the old one (a permanent redirect): links
    already shared and reminders already sent still open it. Back at an old address, that one is current."""
    db.session.execute(delete(CampaignSlug).where(CampaignSlug.slug == campaign.slug))
    if db.session.get(CampaignSlug, old_slug) is None:
        db.session.add(CampaignSlug(slug=old_slug, campaign_id=campaign.id))
    db.session.flush()


def former_slugs(campaign: Campaign) -> list[str]:
    query = select(CampaignSlug.slug).where(CampaignSlug.campaign_id == campaign.id).order_by(CampaignSlug.created_at)
    return list(db.session.scalars(query))


def duplicate_campaign(campaign: Campaign, *, title: str) -> Campaign:
    """A draft copy: the cause, networks, targets chosen, messages and their letters (active variants only),
    with no actions, waves or subscribers. Flushes."""
    copy = save_campaign(
        Campaign(organisation_id=campaign.organisation_id),
        title=title,
        slug=free_slug(slugify(title)),
        cause=campaign.cause,
        language=campaign.language,
        hashtags=campaign.hashtags,
        link=campaign.link,
        networks=list(campaign.networks or []),
        starts_at=None,
        ends_at=None,
        recipient_list_id=campaign.recipient_list_id,
        target_criteria=dict(campaign.target_criteria or {}),
    )
    originals = [(m, [(v.body, dict(v.texts or {})) for v in m.variants if v.is_active]) for m in campaign.messages]
    for position, (message, variants) in enumerate(originals):
        db.session.add(
            Message(
                campaign_id=copy.id,
                label=message.label,
                position=position,
                email_subject=message.email_subject,
                email_body=message.email_body,
                variants=[Variant(body=body, texts=texts) for body, texts in variants],
            )
        )
    db.session.flush()
    db.session.expire(copy, ["messages"])
    return copy


def set_archived(campaign: Campaign, archived: bool) -> None:
    """Archive (or bring back) a campaign that is not running: off the main list, its page unchanged."""
    if archived and campaign.status in (CampaignStatus.LIVE, CampaignStatus.PAUSED):
        raise CampaignError(_("End the campaign before archiving it."))
    campaign.archived_at = utcnow() if archived else None
    db.session.flush()


def delete_draft(campaign: Campaign) -> None:
    """Delete a campaign that never went live, with its messages. Raises CampaignError otherwise."""
    if campaign.status is not CampaignStatus.DRAFT or campaign.published_at is not None:
        raise CampaignError(_("Only a draft that never went live can be deleted; end or archive this one."))
    if db.session.scalar(select(exists().where(Action.campaign_id == campaign.id))):
        raise CampaignError(_("This draft already has messages sent; archive it instead."))
    db.session.delete(campaign)
    db.session.flush()


SOCIAL_NETWORKS = (Network.X, Network.BLUESKY, Network.MASTODON)


def _placeholder_problem(text: str) -> str | None:
    unknown = unknown_placeholders(text)
    if not unknown:
        return None
    return _(
        "Unknown placeholder %(names)s. The placeholders are: %(known)s.",
        names=", ".join("{" + name + "}" for name in unknown),
        known=", ".join("{" + name + "}" for name in PLACEHOLDERS),
    )


def check_body(
    campaign: Campaign,
    body: str,
    *,
    targets: Sequence[TargetContext] | None = None,
    networks: Sequence[Network] | None = None,
) -> list[str]:
    """What is wrong with a social text, in words for the organiser; empty when it can be used.

    Length is measured on `networks` (the campaign's social networks by default), with the mention of
    each target reachable there (or a long sample target when it has none yet); the worst case is reported.
    """
    if not body.strip():
        return [_("The message is empty.")]
    unknown = _placeholder_problem(body)
    if unknown:
        return [unknown]
    if targets is None:
        targets = [target_context(r, campaign.language) for r in eligible_recipients(campaign)] or [SAMPLE_TARGET]
    if networks is None:
        networks = [n for n in campaign.enabled_networks if n in SOCIAL_NETWORKS]
    problems = []
    for network in networks:
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


def check_variant(
    campaign: Campaign, body: str, texts: dict[str, str], *, targets: Sequence[TargetContext] | None = None
) -> list[str]:
    """A variant's problems: its shared text on the social networks that have no text of their own, and
    each network's own text there."""
    social = [n for n in campaign.enabled_networks if n in SOCIAL_NETWORKS]
    shared = [n for n in social if not texts.get(n.value)]
    problems = check_body(campaign, body, targets=targets, networks=shared) if shared or not texts else []
    for network in social:
        own = texts.get(network.value)
        if own:
            problems += [
                _("%(network)s: %(problem)s", network=network.label, problem=problem)
                for problem in check_body(campaign, own, targets=targets, networks=[network])
            ]
    return problems


def check_letter(campaign: Campaign, subject: str, body: str) -> list[str]:
    """What is wrong with a message's e-mail. A message without one is not offered by e-mail (the social text
    is no letter); one with a letter needs a subject."""
    problems = []
    if body.strip() and not subject.strip():
        problems.append(_("The e-mail needs a subject."))
    for text in (subject, body):
        unknown = _placeholder_problem(text)
        if unknown:
            problems.append(unknown)
    return problems


def save_message(
    campaign: Campaign,
    message: Message | None,
    *,
    label: str,
    bodies: Sequence[str],
    texts: Sequence[dict[str, str]] | None = None,
    email_subject: str = "",
    email_body: str = "",
) -> Message:
    """Create or update a message with its variants, in order, and its e-mail. Empty boxes remove a variant.

    `texts[i]` holds variant i's own text per network, where it differs from its shared one. Raises
    CampaignError listing every problem; nothing is changed then. A variant that was already sent is
    retired rather than deleted, so its actions keep their history.
    """

    def clean(text: str | None) -> str:  # a form's box that was not sent at all is None
        return (text or "").strip().replace("\r\n", "\n")

    bodies = [clean(body) for body in bodies]
    own = [
        {network: clean(text) for network, text in (texts[index] if texts and index < len(texts) else {}).items()}
        for index in range(len(bodies))
    ]
    own = [{network: text for network, text in entry.items() if text} for entry in own]
    if not any(bodies):
        raise CampaignError(_("A message needs at least one variant."))
    targets = [target_context(r, campaign.language) for r in eligible_recipients(campaign)] or [SAMPLE_TARGET]
    problems = []
    for number, (body, entry) in enumerate(zip(bodies, own, strict=True), start=1):
        if body:
            problems += [
                _("Variant %(n)d: %(problem)s", n=number, problem=p)
                for p in check_variant(campaign, body, entry, targets=targets)
            ]
        elif entry:
            problems.append(_("Variant %(n)d: write its shared text too.", n=number))
    duplicates = {body for body in bodies if body and bodies.count(body) > 1}
    if duplicates:
        problems.append(_("Two variants have the same text; each variant must say it differently."))
    email_subject, email_body = " ".join(email_subject.split()), clean(email_body)
    problems += [_("E-mail: %(problem)s", problem=p) for p in check_letter(campaign, email_subject, email_body)]
    if problems:
        raise CampaignError(" ".join(problems))
    if message is None:
        message = Message(campaign=campaign, label=label.strip(), position=len(campaign.messages))
        db.session.add(message)
    message.label = label.strip()
    message.email_subject, message.email_body = email_subject, email_body
    current = [v for v in message.variants if v.is_active]
    for index, (body, entry) in enumerate(zip(bodies, own, strict=True)):
        variant = current[index] if index < len(current) else None
        if variant is None and body:
            message.variants.append(Variant(body=body, texts=entry))
        elif variant is not None and not body:
            retire_variant(variant)
        elif variant is not None and (variant.body, variant.texts or {}) != (body, entry):
            if has_actions(variant):  # keep what was sent; the new text is a new variant
                retire_variant(variant)
                message.variants.append(Variant(body=body, texts=entry))
            else:
                variant.body, variant.texts = body, entry
    for variant in current[len(bodies) :]:
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
    if not has_chosen_targets(campaign):
        problems.append(_("Choose the campaign's targets: a list, filters, or both."))
    elif not recipients:
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
        for problem in check_variant(campaign, variant.body, variant.texts or {}, targets=targets or None):
            problems.append(_("Message “%(label)s”: %(problem)s", label=variant.message.label, problem=problem))
    written = [m for m in campaign.messages if any(v.is_active for v in m.variants)]
    for message in written:
        for problem in check_letter(campaign, message.email_subject, message.email_body):
            problems.append(_("Message “%(label)s”: %(problem)s", label=message.label, problem=problem))
    if written and Network.EMAIL in campaign.enabled_networks and not any(m.email_body.strip() for m in written):
        problems.append(_("Write the e-mail of a message (e-mail does not send the social text), or turn e-mail off."))
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
    if status is CampaignStatus.ENDED:
        campaign_ended.send(campaign, now=utcnow())
