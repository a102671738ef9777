"""The supporter's pages: the campaign, one target and its message, the send links, thanks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from campaign.actions import record_action, total_actions
from campaign.appended import count_visit
from campaign.choice import Miss, choose_target, rotate
from campaign.confirm import CONFIRMABLE
from campaign.forms import ConfirmForm, SubscribeForm
from campaign.models import Action, ActionMode, Campaign, CampaignSlug, CampaignStatus
from campaign.offer import snapshot_offer
from campaign.send_links import Click, click_verdict, resolve_send_token, send_serializer, shown_text, signed
from campaign.snapshot import PageTarget, PageVariant, Snapshot, page_cache
from campaign.visit import Visit, visitor_id
from channels import Network, check_length, compose_url
from channels.mastodon import normalise_instance
from clients import hashed_client
from database import utcnow
from extensions import db
from recipients.models import Recipient
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


def _moved(old: str, new: str) -> Response:
    """The same page at the campaign's current address, for good (a form is sent again there as it was)."""
    prefix = f"/c/{old}"
    rest = request.path[len(prefix) :] if request.path.startswith(prefix) else ""
    query = request.query_string.decode()
    location = f"{request.script_root}/c/{new}{rest}" + (f"?{query}" if query else "")
    return redirect(location, code=301 if request.method in ("GET", "HEAD") else 308)


def _visible_or_404(status: CampaignStatus, organisation_id: int) -> None:
    """A draft only for its own organisation's staff (a preview), 404 for anyone else."""
    if status is CampaignStatus.DRAFT and not (
        current_user.is_authenticated and current_user.organisation_id == organisation_id
    ):
        abort(404)


def published_or_404(slug: str) -> Campaign:
    """The campaign; a draft only for its own staff; a former address moves to the current one; else 404."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        former = db.session.get(CampaignSlug, slug)
        if former is None:
            abort(404)
        abort(_moved(slug, db.session.get_one(Campaign, former.campaign_id).slug))
    _visible_or_404(campaign.status, campaign.organisation_id)
    g.page_language = campaign.language
    return campaign


def snapshot_or_404(slug: str) -> Snapshot:
    """The campaign as its supporters see it, from memory: its version (one indexed row) read at most every
    PAGE_VERSION_MAX_AGE seconds per process, the snapshot built again when the version moved."""
    cache = page_cache()
    row = cache.heading(slug, current_app.config["PAGE_VERSION_MAX_AGE"])
    if row is None:
        row = db.session.execute(
            select(Campaign.id, Campaign.version, Campaign.status, Campaign.organisation_id, Campaign.language).where(
                Campaign.slug == slug
            )
        ).first()
        if row is not None:
            cache.keep_heading(slug, row)
    if row is None:
        published_or_404(slug)  # a former address, or nothing
        abort(404)
    _visible_or_404(row.status, row.organisation_id)
    g.page_language = row.language
    return cache.snapshot(row.id, row.version, utcnow())


@bp.route("/")
def home() -> str:
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.LIVE).order_by(Campaign.published_at.desc()).limit(50)
    ).all()
    return render_template("campaign/home.html", campaigns=campaigns)


def _assigned(campaign_id: int) -> list[int]:
    """The targets a reminder's link assigned to this visitor (see `waves.views_public.reminder_link`)."""
    assigned = (session.get("assigned") or {}).get(str(campaign_id)) or []
    return [rid for rid in assigned if isinstance(rid, int)]


def _send_options(
    campaign: Snapshot,
    target: PageTarget,
    variant: PageVariant,
    accounts: dict[Network, SocialAccount],
    networks: list[Network],
) -> list[SendOption]:
    # Bound to the visit that was shown it: a copied link counts for nobody else.
    token = send_serializer().dumps([campaign.id, target.id, variant.id, visitor_id()])
    options = []
    for network in networks:
        if not target.handle(network):
            continue
        text = campaign.text(variant, target, network)
        if text is None:
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


@dataclass(frozen=True)
class Postcode:
    """What the visitor's postcode says: the deputies to choose from, or what to ask or tell."""

    postcode: str
    deputies: list[int] | None = None  # None: no postcode to go by
    choices: list[tuple[str, PageTarget | None]] | None = None  # a postcode over several constituencies
    error: str | None = None


def _postcode(campaign: Snapshot) -> Postcode:
    postcode = normalise_postcode(request.args.get("cp", ""))[:10]
    if not (campaign.postcode_mode and postcode):
        return Postcode(postcode)
    codes = constituencies_for(campaign.organisation_id, postcode)
    chosen_code = request.args.get("circ", "")
    if not codes:
        error = _(
            "We do not know the postcode %(postcode)s. Check it, or write to the target below.", postcode=postcode
        )
        return Postcode(postcode, error=error)
    if len(codes) > 1 and chosen_code not in codes:
        choices = [(code, _first(campaign, code)) for code in codes]
        return Postcode(postcode, choices=choices)
    codes = [chosen_code] if chosen_code in codes else codes
    return Postcode(postcode, deputies=[rid for code in codes for rid in campaign.deputies.get(code, [])])


def _first(campaign: Snapshot, code: str) -> PageTarget | None:
    found = campaign.deputies.get(code)
    return campaign.targets[found[0]] if found else None


@bp.route("/c/<slug>")
def campaign_page(slug: str) -> str:
    campaign = snapshot_or_404(slug)
    if campaign.status is not CampaignStatus.LIVE and campaign.status is not CampaignStatus.DRAFT:
        return render_template("campaign/closed.html", campaign=campaign)
    now = utcnow()
    cache = page_cache()
    visit = Visit(campaign.id)
    where = _postcode(campaign)
    assigned = _assigned(campaign.id)
    offer = snapshot_offer(campaign, now, seen=visit.seen, assigned=assigned, capped=cache.capped)
    counts = cache.counts(campaign.id)
    choice = choose_target(
        targets=campaign.targets,
        counts=counts.counts,
        deputies=where.deputies,
        wave_targets=offer.targets if offer else None,
        capped=offer.capped if offer else (),
        preferred=offer.preferred if offer else None,
        current=visit.current,
        seen=visit.seen,
    )
    postcode_error = where.error
    if choice.miss is Miss.OUTSIDE_WAVE and choice.mine is not None:  # say so, and offer the wave's
        postcode_error = _(
            "Your deputy, %(name)s, is not among the targets of the wave under way. Here is one of them, "
            "who needs to hear from you now.",
            name=campaign.targets[choice.mine].name,
        )
    elif choice.miss is Miss.NOT_A_TARGET:
        postcode_error = _(
            "Your deputy is not among this campaign's targets. Here is another one who needs to hear it."
        )
    target = campaign.targets.get(choice.target_id) if choice.target_id is not None else None
    variants = campaign.variants_for(offer.wave.message_ids if offer else None)
    variant = rotate(variants, target.id, counts.last_variant.get(target.id)) if target else None
    supporter = current_supporter_id()
    accounts = accounts_of(supporter) if supporter else {}
    networks = offer.wave.enabled_networks if offer else campaign.enabled_networks
    options = _send_options(campaign, target, variant, accounts, networks) if target and variant else []
    shown = visit.show(target.id) if target is not None else False
    if (visit.is_new or shown) and allow("visit", current_app.config["VISIT_LIMIT"], hashed_client()):
        count_visit(campaign.id, offer.wave.id if offer else None, now, visit=visit.is_new, shown=shown)
        db.session.commit()
    if visit.is_new and target is None:
        visit.touch()  # so that a reload is not a second visit
    return render_template(
        "campaign/page.html",
        campaign=campaign,
        target=target,
        options=options,
        postcode_mode=campaign.postcode_mode,
        postcode=where.postcode,
        postcode_error=postcode_error,
        choices=where.choices,
        written=visit.sent_count,
        mastodon_instance=session.get("mastodon"),
        connectable=[n for n in connectable_networks() if n not in accounts],
        offer=offer,
        upcoming=None if offer else campaign.next_wave(now),
        subscribe_form=SubscribeForm(formdata=None),
        subscribed=campaign.id in (session.get("subscribed") or []),
        assigned_place=(assigned.index(target.id) + 1, len(assigned))
        if target is not None and target.id in assigned
        else None,
    )


@bp.route("/c/<slug>/another")
def another(slug: str) -> Response:
    """Write to another target: this one is not offered again in this visit."""
    campaign = published_or_404(slug)
    Visit(campaign.id).skip()
    return redirect(url_for(".campaign_page", slug=campaign.slug))


@bp.route("/c/<slug>/send/<network>/<token>")
def send(slug: str, network: str, token: str) -> Response:
    """Count the click, then hand over to the network's own composer (works without JavaScript)."""
    campaign = snapshot_or_404(slug)
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
        wave_id = campaign.wave_for_action(recipient.id, now)
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
        if verdict is Click.COUNTS:
            page_cache().add_click(campaign.id, recipient.id, chosen.variant.id)
        visit.sent(recipient.id, chosen.network.value)
    subject = ""
    if chosen.network is Network.EMAIL:
        subject = campaign.subject(chosen.variant, recipient)
        text = signed(text, request.args.get("signature", ""), request.args.get("postcode", ""))
    return redirect(
        compose_url(chosen.network, text, instance=instance, to=recipient.handle(chosen.network), subject=subject),
        code=303,
    )


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
