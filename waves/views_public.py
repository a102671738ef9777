"""The supporter's side of waves: the reminder's personal link, hearing of waves, and pledging a post."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from campaign.forms import ConfirmForm, SubscribeForm
from campaign.models import Campaign, CampaignStatus, CampaignTarget, Variant, Wave, WaveStatus
from campaign.offer import next_wave, open_wave, wave_target_ids
from campaign.rendering import RenderError
from campaign.targets import active_variants, pick_target, reachable, target_context, variant_text
from campaign.views_posting import describe
from campaign.views_public import published_or_404
from campaign.visit import visitor_id
from channels import Network
from clients import hashed_client
from database import parse_id, utcnow
from extensions import db
from scheduler.dispatch import notify
from scheduler.models import Delivery
from supporters.identity import current_supporter_id
from supporters.models import SocialAccount
from supporters.services import accounts_of
from waves.forms import PledgeForm
from waves.models import PLEDGE_NETWORKS, Pledge, PledgeState
from waves.optin import OptInError, queue_confirmation, subscribe, subscribe_allowed
from waves.pledges import PledgeRefused, make_pledge, withdraw_pledge
from waves.reminders import reminder_from_token, reminder_targets

bp = Blueprint("campaign_waves_public", __name__)


@bp.route("/c/<slug>/r/<token>")
def reminder_link(slug: str, token: str) -> Response:
    """A reminder's personal link: remember its assigned targets for this visit, then open the campaign."""
    campaign = published_or_404(slug)
    reminder = reminder_from_token(token)
    wave = db.session.get(Wave, reminder.wave_id) if reminder else None
    if reminder is None or wave is None or wave.campaign_id != campaign.id:
        flash(_("This link is not valid any more. Here is the campaign."), "error")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    if wave.status is not WaveStatus.OPEN:
        flash(_("This wave is over, but the campaign goes on: here is who needs to hear from you."), "info")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    if reminder.opened_at is None:
        reminder.opened_at = utcnow()
        db.session.commit()
    assigned = dict(session.get("assigned") or {})
    assigned[str(campaign.id)] = reminder_targets(wave, reminder)
    session["assigned"] = assigned
    remember_subscribed(campaign.id)  # they signed up already: the page does not ask again
    return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))


def remember_subscribed(campaign_id: int) -> None:
    subscribed = [cid for cid in session.get("subscribed") or [] if isinstance(cid, int)]
    if campaign_id not in subscribed:
        session["subscribed"] = [*subscribed[-19:], campaign_id]


@bp.route("/c/<slug>/subscribe", methods=["POST"])
def subscribe_to_waves(slug: str) -> Response | str:
    """Ask to hear of the next waves: a confirmation e-mail goes out (double opt-in)."""
    campaign = published_or_404(slug)
    form = SubscribeForm()
    if form.validate_on_submit():
        now = utcnow()
        if not subscribe_allowed(campaign.id, form.email.data or "", hashed_client()):
            form.email.errors = [_("Too many requests for this address or from your connection. Try again tomorrow.")]
            return render_template("waves/subscribe.html", campaign=campaign, form=form), 429  # type: ignore[return-value]
        try:
            subscription = subscribe(
                campaign.id,
                form.email.data or "",
                language=campaign.language,
                now=now,
                share=bool(form.share.data),
                visitor_id=visitor_id(),
                supporter_id=current_supporter_id(),
            )
        except OptInError as exc:
            form.email.errors = [str(exc)]
        else:
            delivery = queue_confirmation(subscription, now) if subscription is not None else None
            db.session.commit()
            if delivery is not None:
                notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
            remember_subscribed(campaign.id)
            flash(_("Check your inbox: follow the link in our e-mail to confirm."), "success")
            return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    return render_template("waves/subscribe.html", campaign=campaign, form=form), 400  # type: ignore[return-value]


def _pledge_wave(campaign: Campaign) -> Wave | None:
    now = utcnow()
    return open_wave(campaign, now) or next_wave(campaign, now)


def _pledge_accounts(wave: Wave) -> dict[Network, SocialAccount]:
    return {
        network: account
        for network, account in accounts_of(current_supporter_id()).items()
        if network.value in PLEDGE_NETWORKS and network.value in wave.networks
    }


def _proposal(campaign: Campaign, wave: Wave, recipient_id: int, network: Network) -> tuple[Variant | None, str]:
    """The variant least pledged to this target yet, rendered: the first pledgers need not edit it."""
    variants = active_variants(campaign, wave.message_ids)
    used = dict(
        db.session.execute(
            select(Pledge.variant_id, func.count())
            .where(
                Pledge.wave_id == wave.id, Pledge.recipient_id == recipient_id, Pledge.state != PledgeState.CANCELLED
            )
            .group_by(Pledge.variant_id)
        )
        .tuples()
        .all()
    )
    target = db.session.get(CampaignTarget, (campaign.id, recipient_id))
    for variant in sorted(variants, key=lambda v: (used.get(v.id, 0), v.id)):
        if target is None:
            break
        try:
            return variant, variant_text(
                campaign, variant, target_context(target.recipient, campaign.language), network
            )
        except RenderError:
            continue
    return None, ""


@bp.route("/c/<slug>/pledge", methods=["GET", "POST"])
def pledge(slug: str) -> Response | str:
    """Pledge a post to the open or next wave, through a connected Bluesky or Mastodon account."""
    campaign = published_or_404(slug)
    wave = _pledge_wave(campaign)
    if campaign.status is not CampaignStatus.LIVE or wave is None:
        flash(_("No wave is coming up: there is nothing to pledge to at the moment."), "error")
        return redirect(url_for("campaign_public.campaign_page", slug=campaign.slug))
    accounts = _pledge_accounts(wave)
    form = PledgeForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit() and parse_id(form.recipient_id.data) is not None:
            account = accounts.get(Network(form.network.data))
            if account is None:
                form.network.errors = [_("Connect this account first.")]
            else:
                variant_id = parse_id(form.variant_id.data)
                try:
                    made = make_pledge(
                        wave,
                        account,
                        recipient_id=parse_id(form.recipient_id.data) or 0,
                        variant_id=variant_id,
                        text=form.text.data or "",
                        now=utcnow(),
                    )
                except PledgeRefused as exc:
                    db.session.rollback()
                    form.text.errors = [str(exc)]
                else:
                    db.session.commit()
                    flash(
                        _("Pledged. It will go out from %(handle)s during the wave.", handle=account.label), "success"
                    )
                    return redirect(url_for(".pledges", slug=campaign.slug, made=made.id))
        status = 400
    network = (
        Network(form.network.data) if form.network.data in PLEDGE_NETWORKS else next(iter(accounts), Network.BLUESKY)
    )
    recipient_id = parse_id(form.recipient_id.data)
    if recipient_id is None:  # a target who is on this network: a pledge must mention them there
        chosen = pick_target(campaign, among=reachable(wave_target_ids(wave), network))
        recipient_id = chosen.recipient_id if chosen else None
    target = db.session.get(CampaignTarget, (campaign.id, recipient_id)) if recipient_id else None
    if request.method == "GET" and target is not None:
        variant, text = _proposal(campaign, wave, target.recipient_id, network)
        form.text.data, form.variant_id.data = text, str(variant.id) if variant else ""
        form.network.data, form.recipient_id.data = network.value, str(target.recipient_id)
    return render_template(
        "waves/pledge.html", campaign=campaign, wave=wave, form=form, accounts=accounts, target=target
    ), status  # type: ignore[return-value]


@bp.route("/c/<slug>/pledges")
def pledges(slug: str) -> str:
    """The supporter's own pledges to this campaign's waves, and where each stands."""
    campaign = published_or_404(slug)
    supporter_id = current_supporter_id()
    rows = (
        db.session.execute(
            select(Pledge, Wave, Delivery)
            .join(Wave, Wave.id == Pledge.wave_id)
            .outerjoin(Delivery, Delivery.id == Pledge.delivery_id)
            .where(Wave.campaign_id == campaign.id, Pledge.supporter_id == supporter_id)
            .order_by(Pledge.created_at.desc())
        ).all()
        if supporter_id
        else []
    )
    described = {pledge.id: describe(delivery)[0] for pledge, _wave, delivery in rows if delivery is not None}
    return render_template(
        "waves/pledges.html", campaign=campaign, rows=rows, described=described, confirm=ConfirmForm()
    )


@bp.route("/c/<slug>/pledges/<int:pledge_id>/withdraw", methods=["POST"])
def withdraw(slug: str, pledge_id: int) -> Response:
    """Take a pledge back while it waits for its moment; once released, the post is out or on its way."""
    campaign = published_or_404(slug)
    pledge = db.session.get(Pledge, pledge_id)
    wave = db.session.get(Wave, pledge.wave_id) if pledge else None
    if (
        pledge is None
        or wave is None
        or wave.campaign_id != campaign.id
        or pledge.supporter_id != current_supporter_id()
    ):
        abort(404)  # somebody else's pledge is none of this visitor's business
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if withdraw_pledge(pledge):
        db.session.commit()
        flash(_("Pledge withdrawn: it will not be posted."), "success")
    else:
        db.session.rollback()
        flash(_("Too late to withdraw it: the post is out, or on its way."), "error")
    return redirect(url_for(".pledges", slug=campaign.slug))
