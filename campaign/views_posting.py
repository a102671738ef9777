"""Posting through a connected account from the campaign page: one click, the exact text, then its fate.

Also the handle a compose-link supporter gives so that their post can be confirmed later.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import format_time
from flask_babel import gettext as _
from sqlalchemy import select, update
from werkzeug.wrappers import Response

from campaign.actions import record_action
from campaign.confirm import CONFIRMABLE
from campaign.models import Action, ActionMode, Campaign
from campaign.rendering import mentions
from campaign.send_links import resolve_send_token, shown_text
from campaign.snapshot import Snapshot
from campaign.views_public import published_or_404, snapshot_or_404
from campaign.visit import Visit, visitor_id
from channels import Network, check_length, mention, normalise_handle
from database import utcnow
from extensions import db
from scheduler.dispatch import notify
from scheduler.models import Delivery, DeliveryState
from supporters.identity import current_supporter_id
from supporters.posting import PostRefused, queue_post
from supporters.services import accounts_of

bp = Blueprint("campaign_posting", __name__)
MY_POSTS = 50  # deliveries remembered in the session, the newest


def _remember(delivery_id: int, key: str) -> None:
    posts = [p for p in session.get("posts", []) if isinstance(p, list) and p[1] != key]
    session["posts"] = [*posts, [delivery_id, key]][-MY_POSTS:]


def _mine(delivery_id: int) -> bool:
    return any(isinstance(p, list) and p[0] == delivery_id for p in session.get("posts", []))


def _earlier(key: str) -> int | None:
    """The delivery this visitor already queued or posted for the same target and network (a double click).

    A failed or cancelled one (the account was disconnected) leaves the button to try again.
    """
    for entry in session.get("posts", []):
        if isinstance(entry, list) and entry[1] == key:
            delivery = db.session.get(Delivery, entry[0])
            if delivery is not None and (delivery.is_pending or delivery.state is DeliveryState.POSTED):
                return delivery.id
    return None


@bp.route("/c/<slug>/post/<network>/<token>", methods=["POST"])
def post(slug: str, network: str, token: str) -> Response | tuple[str, int]:
    """Queue the text the supporter approved (edited or not) through their account: the only way a post starts."""
    campaign = snapshot_or_404(slug)
    chosen = resolve_send_token(campaign, network, token)
    if isinstance(chosen, Response):
        return chosen
    account = accounts_of(current_supporter_id()).get(chosen.network)
    if account is None:
        return redirect(url_for(f"supporters.connect_{chosen.network.value}", next=f"/c/{campaign.slug}"))
    key = f"{campaign.id}:{chosen.recipient.id}:{chosen.network.value}"
    earlier = _earlier(key)
    if earlier is not None:
        return redirect(url_for(".status", slug=campaign.slug, delivery_id=earlier))
    text = request.form.get("text", shown_text(campaign, chosen)).replace("\r\n", "\n").strip()
    handle = chosen.recipient.handle(chosen.network) or ""
    try:
        if text and not mentions(chosen.network, handle, text):
            raise PostRefused("mention:" + mention(chosen.network, handle))
        delivery = queue_post(account, text, language=campaign.language)
    except PostRefused as refused:
        db.session.rollback()
        return _refused(campaign, chosen.network, account.label, text, str(refused), request.path), 422
    record_action(
        campaign,
        recipient_id=chosen.recipient.id,
        variant_id=chosen.variant.id,
        network=chosen.network,
        visitor_id=visitor_id(),
        text=text,
        mode=ActionMode.API,
        delivery_id=delivery.id,
        wave_id=campaign.wave_for_action(chosen.recipient.id, utcnow()),
    )
    db.session.commit()
    notify(current_app._get_current_object(), delivery.id)  # type: ignore[attr-defined]
    _remember(delivery.id, key)
    Visit(campaign.id).sent(chosen.recipient.id, chosen.network.value)
    return redirect(url_for(".status", slug=campaign.slug, delivery_id=delivery.id), code=303)


def _refused(campaign: Campaign | Snapshot, network: Network, handle: str, text: str, problem: str, action: str) -> str:
    if problem == "reconnect":
        error = _(
            "%(network)s no longer accepts the connection: reconnect your account, then send again.",
            network=network.label,
        )
    elif problem == "empty":
        error = _("The message is empty.")
    elif problem.startswith("mention:"):
        error = _(
            "Keep %(handle)s in the message: without the mention, they will not see it.",
            handle=problem.removeprefix("mention:"),
        )
    else:
        error = _("Too long for %(network)s: %(count)s. Shorten it, then post.", network=network.label, count=problem)
    return render_template(
        "campaign/post_edit.html",
        campaign=campaign,
        network=network,
        handle=handle,
        text=text,
        error=error,
        action=action,
        reconnect=problem == "reconnect",
    )


def describe(delivery: Delivery) -> tuple[str, bool]:
    """The supporter-facing words for where the post is, and whether it is still on its way."""
    network = delivery.network.label
    when = format_time(delivery.next_attempt_at, "HH:mm")  # on the organisation's clock
    if delivery.state is DeliveryState.POSTED:
        if delivery.remote_url:
            return _("Posted on %(network)s.", network=network), False
        return _("Posted on %(network)s (it did not send back the link to your post).", network=network), False
    if delivery.state is DeliveryState.CANCELLED:
        return _("Not posted: the account was disconnected first."), False
    if delivery.state is DeliveryState.FAILED:
        return {
            "auth_expired": _(
                "%(network)s no longer accepts the connection: reconnect your account, then send again.",
                network=network,
            ),
            "duplicate": _("Already posted: %(network)s already has this exact text from you.", network=network),
            "rejected": _("%(network)s refused the message: %(reason)s", network=network, reason=delivery.error),
            "rate_limited": _(
                "%(network)s kept limiting your account; the message was not posted. Try again later.", network=network
            ),
            "unconfirmed": _(
                "%(network)s did not answer after several tries, and may have posted your message all the same: "
                "look at your account before sending it again.",
                network=network,
            ),
        }.get(
            delivery.error_kind,
            _("%(network)s did not answer after several tries. Your message was not posted.", network=network),
        ), False
    if delivery.error_kind == "rate_limited":
        return _(
            "%(network)s limits how often an account can post: your message goes out automatically at %(time)s.",
            network=network,
            time=when,
        ), True
    if delivery.error_kind:
        return _("%(network)s did not answer; we try again at %(time)s.", network=network, time=when), True
    return _("Sending to %(network)s…", network=network), True


def _delivery_or_404(delivery_id: int) -> Delivery:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or not _mine(delivery_id):
        abort(404)
    return delivery


@bp.route("/c/<slug>/posts/<int:delivery_id>")
def status(slug: str, delivery_id: int) -> str:
    campaign = published_or_404(slug)
    delivery = _delivery_or_404(delivery_id)
    message, pending = describe(delivery)
    action = db.session.scalar(select(Action).where(Action.delivery_id == delivery.id))
    return render_template(
        "campaign/post_status.html",
        campaign=campaign,
        delivery=delivery,
        message=message,
        pending=pending,
        recipient=action.recipient if action else None,
    )


@bp.route("/c/<slug>/posts/<int:delivery_id>.json")
def status_json(slug: str, delivery_id: int) -> Response:
    published_or_404(slug)
    delivery = _delivery_or_404(delivery_id)
    message, pending = describe(delivery)
    return jsonify(state=delivery.state.value, pending=pending, message=message, url=delivery.remote_url or None)


@bp.route("/c/<slug>/length", methods=["POST"])
def length(slug: str) -> Response | tuple[Response, int]:
    """The live counter of the post box, by the network's own rule (the instance's limit on Mastodon)."""
    published_or_404(slug)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="send a JSON object with network and text"), 400
    try:
        network = Network(str(body.get("network")))
    except ValueError:
        return jsonify(error="unknown network"), 400
    account = accounts_of(current_supporter_id()).get(network)
    return jsonify(
        check_length(network, str(body.get("text", ""))[:5000], limit=account.char_limit if account else None).as_dict()
    )


@bp.route("/c/<slug>/confirm", methods=["POST"])
def confirm(slug: str) -> Response:
    """Take the supporter's handle so that the link posts they just made can be found and confirmed."""
    campaign = published_or_404(slug)
    try:
        network = Network(request.form.get("network", ""))
        if network not in CONFIRMABLE:
            raise ValueError(network)
        handle = normalise_handle(network, request.form.get("handle", ""))
    except ValueError:
        flash(
            _("Type your handle as it appears on your profile, for example camille.bsky.social or camille@piaille.fr."),
            "error",
        )
        return redirect(url_for("campaign_public.thanks", slug=campaign.slug))
    session["handles"] = {**(session.get("handles") or {}), network.value: handle}
    db.session.execute(
        update(Action)
        .where(
            Action.campaign_id == campaign.id,
            Action.visitor_id == visitor_id(),
            Action.network == network,
            Action.mode == ActionMode.LINK,
            Action.author_handle.is_(None),
            Action.created_at >= utcnow() - timedelta(hours=24),
        )
        .values(author_handle=handle)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    flash(_("Thank you: we will look for your post on %(network)s in a few minutes.", network=network.label), "success")
    return redirect(url_for("campaign_public.thanks", slug=campaign.slug))
