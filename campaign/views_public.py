"""The supporter's pages: the campaign, one target and its message, the send links, thanks."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, exists, select
from werkzeug.wrappers import Response

from campaign.actions import record_action, total_actions
from campaign.confirm import CONFIRMABLE
from campaign.forms import ConfirmForm, SubscribeForm
from campaign.models import Action, ActionMode, Campaign, CampaignSlug, CampaignStatus, CampaignTarget, Message, Variant
from campaign.offer import next_wave, wave_for_action, wave_offer
from campaign.rendering import RenderError
from campaign.tallies import count_visit
from campaign.targets import (
    active_variants,
    email_subject,
    next_variant,
    pick_target,
    target_context,
    variant_text,
)
from campaign.visit import Visit, visitor_id
from channels import Network, check_length, compose_url
from channels.mastodon import normalise_instance
from clients import hashed_client
from database import utcnow
from extensions import db
from recipients.models import PostcodeArea, Recipient, TargetRole
from recipients.postcodes import constituencies_for, normalise_postcode
from security import allow
from supporters.identity import current_supporter_id
from supporters.models import SocialAccount
from supporters.networks import connectable_networks
from supporters.services import accounts_of
from urls import public_url

bp = Blueprint("campaign_public", __name__)


@dataclass(frozen=True)
class SendOption:
    network: Network
    text: str
    length: int
    limit: int | None
    url: str  # our redirect endpoint, which counts the click
    account: SocialAccount | None = None  # the supporter's connected account on this network
    post_url: str = ""  # where the "post now" form goes, when there is an account


SEND_LINK_MAX_AGE = 6 * 3600  # a page left open over lunch still sends; a link copied last week does not


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="send-link-v2")


def _moved(old: str, new: str) -> Response:
    """The same page at the campaign's current address, for good (a form is sent again there as it was)."""
    prefix = f"/c/{old}"
    rest = request.path[len(prefix) :] if request.path.startswith(prefix) else ""
    query = request.query_string.decode()
    location = f"{request.script_root}/c/{new}{rest}" + (f"?{query}" if query else "")
    return redirect(location, code=301 if request.method in ("GET", "HEAD") else 308)


def published_or_404(slug: str) -> Campaign:
    """The campaign; a draft only for its own organisation's staff (a preview), 404 for anyone else."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        former = db.session.get(CampaignSlug, slug)
        if former is None:
            abort(404)
        abort(_moved(slug, db.session.get_one(Campaign, former.campaign_id).slug))
    if campaign.status is CampaignStatus.DRAFT and not (
        current_user.is_authenticated and current_user.organisation_id == campaign.organisation_id
    ):
        abort(404)
    g.page_language = campaign.language
    return campaign


@bp.route("/")
def home() -> str:
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.LIVE).order_by(Campaign.published_at.desc()).limit(50)
    ).all()
    return render_template("campaign/home.html", campaigns=campaigns)


def _postcode_mode(campaign: Campaign) -> bool:
    """Ask for a postcode when the map is loaded and the campaign aims at deputies with constituencies (one query).

    The map leads to deputies' constituencies: senators or ministers carrying codes do not count.
    """
    with_constituency = (
        select(CampaignTarget.recipient_id)
        .join(Recipient, Recipient.id == CampaignTarget.recipient_id)
        .where(
            CampaignTarget.campaign_id == campaign.id,
            Recipient.role == TargetRole.DEPUTY,
            Recipient.constituency_code != "",
        )
    )
    has_map = exists(select(PostcodeArea.postcode).where(PostcodeArea.organisation_id == campaign.organisation_id))
    return bool(db.session.scalar(select(and_(has_map, exists(with_constituency)))))


def _assigned(campaign: Campaign) -> list[int]:
    """The targets a reminder's link assigned to this visitor (see `views_waves_public.reminder_link`)."""
    assigned = (session.get("assigned") or {}).get(str(campaign.id)) or []
    return [rid for rid in assigned if isinstance(rid, int)]


def _constituency_choices(campaign: Campaign, codes: list[str]) -> list[tuple[str, Recipient | None]]:
    deputies = {
        r.constituency_code: r
        for r in db.session.scalars(
            select(Recipient)
            .join(CampaignTarget, CampaignTarget.recipient_id == Recipient.id)
            .where(CampaignTarget.campaign_id == campaign.id, Recipient.constituency_code.in_(codes))
        )
    }
    return [(code, deputies.get(code)) for code in codes]


def _send_options(
    campaign: Campaign,
    target: CampaignTarget,
    variant: Variant,
    accounts: dict[Network, SocialAccount],
    networks: list[Network],
) -> list[SendOption]:
    recipient = target.recipient
    context = target_context(recipient, campaign.language)
    # Bound to the visit that was shown it: a copied link counts for nobody else.
    token = _serializer().dumps([campaign.id, recipient.id, variant.id, visitor_id()])
    options = []
    for network in networks:
        if not recipient.handle(network):
            continue
        try:
            text = variant_text(campaign, variant, context, network)
        except RenderError:
            continue
        account = accounts.get(network)
        measured = check_length(network, text, limit=account.char_limit if account else None)
        if not measured.ok and network is not Network.EMAIL:  # never offer a text the network refuses
            continue  # (a letter has no limit: a mail client that cuts a long link still has it on the page)
        url = url_for(".send", slug=campaign.slug, network=network.value, token=token)
        post_url = (
            url_for("campaign_posting.post", slug=campaign.slug, network=network.value, token=token) if account else ""
        )
        options.append(SendOption(network, text, measured.length, measured.limit, url, account, post_url))
    return options


@bp.route("/c/<slug>")
def campaign_page(slug: str) -> str:
    campaign = published_or_404(slug)
    if campaign.status is not CampaignStatus.LIVE and campaign.status is not CampaignStatus.DRAFT:
        return render_template("campaign/closed.html", campaign=campaign)
    visit = Visit(campaign.id)
    postcode_mode = _postcode_mode(campaign)
    postcode = normalise_postcode(request.args.get("cp", ""))[:10]
    chosen_code = request.args.get("circ", "")
    postcode_error = choices = None
    codes: list[str] = []
    if postcode_mode and postcode:
        codes = constituencies_for(campaign.organisation_id, postcode)
        if not codes:
            postcode_error = _(
                "We do not know the postcode %(postcode)s. Check it, or write to the target below.", postcode=postcode
            )
        elif len(codes) > 1 and chosen_code not in codes:
            choices = _constituency_choices(campaign, codes)
        else:
            codes = [chosen_code] if chosen_code in codes else codes
    assigned = _assigned(campaign)
    offer = wave_offer(campaign, utcnow(), seen=visit.seen, assigned=assigned)
    target = None
    if codes and not choices:
        target = pick_target(campaign, constituency_codes=codes, among=offer.targets if offer else None)
        mine = pick_target(campaign, constituency_codes=codes) if target is None and offer else None
        if mine is not None:  # a target of the campaign, not of this wave: say so, and offer the wave's
            postcode_error = _(
                "Your deputy, %(name)s, is not among the targets of the wave under way. Here is one of them, "
                "who needs to hear from you now.",
                name=mine.recipient.name,
            )
        elif target is None:
            postcode_error = _(
                "Your deputy is not among this campaign's targets. Here is another one who needs to hear it."
            )
    if target is None and offer is not None and offer.preferred is not None:  # a reminder's targets come first
        target = db.session.get(CampaignTarget, (campaign.id, offer.preferred))
    if target is None and visit.current is not None and visit.current not in visit.seen:
        current = db.session.get(CampaignTarget, (campaign.id, visit.current))
        target = current if offer is None or (current and current.recipient_id in offer.open_targets) else None
    if target is None:
        target = pick_target(
            campaign,
            exclude=set(visit.seen) | (offer.capped if offer else set()),
            among=offer.targets if offer else None,
        )
    variants = active_variants(campaign, offer.wave.message_ids if offer else None)
    variant = next_variant(variants, target) if target else None
    accounts = accounts_of(current_supporter_id())
    networks = offer.wave.enabled_networks if offer else campaign.enabled_networks
    options = _send_options(campaign, target, variant, accounts, networks) if target and variant else []
    shown = visit.show(target.recipient_id) if target is not None else False
    if (visit.is_new or shown) and allow("visit", current_app.config["VISIT_LIMIT"], hashed_client()):
        count_visit(campaign.id, offer.wave.id if offer else None, utcnow(), visit=visit.is_new, shown=shown)
        db.session.commit()
    if visit.is_new and target is None:
        visit.touch()  # so that a reload is not a second visit
    return render_template(
        "campaign/page.html",
        campaign=campaign,
        target=target.recipient if target else None,
        options=options,
        postcode_mode=postcode_mode,
        postcode=postcode,
        postcode_error=postcode_error,
        choices=choices,
        written=visit.sent_count,
        mastodon_instance=session.get("mastodon"),
        connectable=[n for n in connectable_networks() if n not in accounts],
        offer=offer,
        upcoming=None if offer else next_wave(campaign, utcnow()),
        subscribe_form=SubscribeForm(formdata=None),
        subscribed=campaign.id in (session.get("subscribed") or []),
        assigned_place=(assigned.index(target.recipient_id) + 1, len(assigned))
        if target is not None and target.recipient_id in assigned
        else None,
    )


@bp.route("/c/<slug>/another")
def another(slug: str) -> Response:
    """Write to another target: this one is not offered again in this visit."""
    campaign = published_or_404(slug)
    Visit(campaign.id).skip()
    return redirect(url_for(".campaign_page", slug=campaign.slug))


@dataclass(frozen=True)
class Chosen:
    """What a send link points at, checked: still a target, an active variant of this campaign, a network of it."""

    target: CampaignTarget
    variant: Variant
    network: Network
    visitor_id: str  # the visit the link was shown to

    def is_for(self, visitor: str) -> bool:
        return bool(self.visitor_id) and self.visitor_id == visitor

    @property
    def recipient(self) -> Recipient:
        return self.target.recipient


def resolve_send_token(campaign: Campaign, network: str, token: str) -> Chosen | Response:
    """The target, variant and network a signed send link names, or the redirect that explains why not.

    404 for a link we did not sign; a redirect to the campaign page when it expired or is no longer offered.
    """
    if campaign.status is not CampaignStatus.LIVE:
        flash(_("This campaign is not taking messages at the moment."), "error")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    try:
        campaign_id, recipient_id, variant_id, link_visitor = _serializer().loads(token, max_age=SEND_LINK_MAX_AGE)
        chosen = Network(network)
    except SignatureExpired:
        flash(_("This page was open for a long time: here is the message again."), "info")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    except (BadSignature, ValueError, TypeError):
        abort(404)
    if not isinstance(recipient_id, int) or not isinstance(variant_id, int) or not isinstance(link_visitor, str):
        abort(404)
    target = db.session.get(CampaignTarget, (campaign.id, recipient_id)) if campaign_id == campaign.id else None
    variant = db.session.get(Variant, variant_id)
    if target is None or variant is None or not variant.is_active or chosen not in campaign.enabled_networks:
        flash(_("This message is no longer offered. Here is the current one."), "error")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    message = db.session.get(Message, variant.message_id)
    if message is None or message.campaign_id != campaign.id or target.recipient.handle(chosen) is None:
        abort(404)
    return Chosen(target, variant, chosen, link_visitor)


def shown_text(campaign: Campaign, chosen: Chosen) -> str:
    return variant_text(campaign, chosen.variant, target_context(chosen.recipient, campaign.language), chosen.network)


SIGNATURE_LENGTH = 120


def signed(letter: str, name: str, postcode: str) -> str:
    """The letter signed with what the supporter gave on the page: a name, a postcode (a deputy weighs
    constituents). Either may be empty."""
    lines = [" ".join(name.split())[:SIGNATURE_LENGTH], normalise_postcode(postcode)[:10]]
    signature = "\n".join(line for line in lines if line)
    return f"{letter}\n\n{signature}" if signature else letter


@bp.route("/c/<slug>/send/<network>/<token>")
def send(slug: str, network: str, token: str) -> Response:
    """Count the click, then hand over to the network's own composer (works without JavaScript)."""
    campaign = published_or_404(slug)
    chosen = resolve_send_token(campaign, network, token)
    if isinstance(chosen, Response):
        return chosen
    instance = session.get("mastodon")
    if chosen.network is Network.MASTODON and not instance:
        return redirect(url_for(".mastodon_instance", slug=campaign.slug, next=request.path))
    recipient = chosen.recipient
    text = shown_text(campaign, chosen)
    visit = Visit(campaign.id)
    if not visit.has_sent(recipient.id, chosen.network.value):  # a second press on the same button counts once
        now = utcnow()
        wave_id = wave_for_action(campaign, recipient.id, now)
        verdict = click_verdict(campaign, chosen, visitor_id())
        if verdict is Click.COUNTS:
            record_action(
                campaign,
                recipient_id=recipient.id,
                variant_id=chosen.variant.id,
                network=chosen.network,
                visitor_id=visitor_id(),
                text=text,
                author_handle=known_handle(chosen.network),
                wave_id=wave_id,
                now=now,
            )
        elif verdict is Click.REFUSED:
            count_visit(campaign.id, wave_id, now, visit=False, shown=False, refused=True)
        db.session.commit()
        visit.sent(recipient.id, chosen.network.value)
    subject = ""
    if chosen.network is Network.EMAIL:
        subject = email_subject(campaign, chosen.variant, target_context(recipient, campaign.language))
        text = signed(text, request.args.get("signature", ""), request.args.get("postcode", ""))
    return redirect(
        compose_url(chosen.network, text, instance=instance, to=recipient.handle(chosen.network), subject=subject),
        code=303,
    )


class Click(enum.Enum):
    COUNTS = "counts"  # a message a real visitor sent
    ALREADY = "already"  # this visit already wrote to this target on this network: a second press, not abuse
    REFUSED = "refused"  # a link replayed without the visit it was shown to, or over the click throttle


def click_verdict(campaign: Campaign, chosen: Chosen, visitor: str) -> Click:
    """Whether a click counts: the link was shown to this visit, the visit has not already written to this
    target on this network (whatever its cookie says now), and its client is under the click throttle.
    A click that does not count still opens the composer: only the count is withheld.
    """
    if not chosen.is_for(visitor):
        return Click.REFUSED
    already = db.session.scalar(
        select(
            exists().where(
                Action.campaign_id == campaign.id,
                Action.visitor_id == visitor,
                Action.recipient_id == chosen.recipient.id,
                Action.network == chosen.network,
            )
        )
    )
    if already:
        return Click.ALREADY
    return Click.COUNTS if allow("click", current_app.config["CLICK_LIMIT"], hashed_client()) else Click.REFUSED


def known_handle(network: Network) -> str | None:
    """The supporter's own handle on `network`, when they gave it (to confirm link posts later)."""
    handles = session.get("handles") or {}
    value = handles.get(network.value)
    return value if isinstance(value, str) and value else None


@bp.route("/c/<slug>/mastodon", methods=["GET", "POST"])
def mastodon_instance(slug: str) -> Response | str:
    """Ask once for the supporter's Mastodon instance; remembered for the visit."""
    campaign = published_or_404(slug)
    next_path = request.values.get("next", "")
    if not next_path.startswith(f"/c/{campaign.slug}/"):
        next_path = url_for(".campaign_page", slug=campaign.slug)
    error = None
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        instance = normalise_instance(request.form.get("instance", ""))
        if instance:
            session["mastodon"] = instance
            return redirect(next_path)
        error = _("Type the address of your Mastodon server, for example mastodon.social.")
    return render_template(
        "campaign/mastodon.html",
        campaign=campaign,
        next_path=next_path,
        error=error,
        form=form,
        instance=request.form.get("instance", session.get("mastodon", "")),
    )


@bp.route("/c/<slug>/thanks")
def thanks(slug: str) -> str:
    campaign = published_or_404(slug)
    visit = Visit(campaign.id)
    last = db.session.get(Recipient, visit.last_sent) if visit.last_sent else None
    page_url = public_url("campaign_public.campaign_page", slug=campaign.slug)
    invitation = _("I just wrote to my representatives: %(title)s. Join in:", title=campaign.title) + " " + page_url
    share = [
        (Network.X.label, compose_url(Network.X, invitation)),
        (Network.BLUESKY.label, compose_url(Network.BLUESKY, invitation)),
    ]
    if session.get("mastodon"):
        share.append((Network.MASTODON.label, compose_url(Network.MASTODON, invitation, instance=session["mastodon"])))
    share.append((_("E-mail"), f"mailto:?subject={quote(campaign.title)}&body={quote(invitation)}"))
    pending_confirmation = db.session.scalars(
        select(Action.network)
        .distinct()
        .where(
            Action.campaign_id == campaign.id,
            Action.visitor_id == visitor_id(),
            Action.mode == ActionMode.LINK,
            Action.network.in_(CONFIRMABLE),
            Action.author_handle.is_(None),
            Action.created_at >= utcnow() - timedelta(hours=24),
        )
    ).all()
    return render_template(
        "campaign/thanks.html",
        campaign=campaign,
        confirm_networks=sorted(pending_confirmation),
        last=last,
        written=visit.sent_count,
        total=total_actions(campaign),
        share=share,
        page_url=page_url,
    )
