"""The supporter's side of connected accounts: connect on each network, see them, disconnect.

A supporter is known by the session cookie (kept for a month once they connect): no sign-up.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from channels import Network, bluesky, mastodon, x
from channels.api import Profile, pkce_pair
from channels.clients import x_grant
from channels.errors import ChannelError, ErrorKind
from channels.mastodon import normalise_instance
from clients import hashed_client
from extensions import db
from security import allow
from supporters import services
from supporters.forms import BlueskyForm, MastodonServerForm
from supporters.identity import current_supporter_id
from supporters.models import SocialAccount
from supporters.networks import connectable_networks, endpoint, is_live, x_app
from urls import public_url

bp = Blueprint("supporters", __name__, url_prefix="/s")
CONNECT_LIMIT = "10 per hour;30 per day"  # Mastodon servers tried per hashed client (each may register an app)


@bp.before_request
def _only_connectable_networks() -> None:
    """In production a network that is not live has no connect pages: it is a compose link only."""
    endpoint_name = request.endpoint or ""
    for network in (Network.X, Network.MASTODON, Network.BLUESKY):
        if (
            endpoint_name.startswith(f"supporters.{network.value}_")
            or endpoint_name == f"supporters.connect_{network.value}"
        ):
            if network not in connectable_networks():
                abort(404)


def safe_next(value: str | None) -> str:
    """Only our own campaign and account pages are places to come back to."""
    if value and (value.startswith("/c/") or value.startswith("/s/")) and "//" not in value and "\\" not in value:
        return value
    return url_for("supporters.accounts")


def explain(error: ChannelError, network: str) -> str:
    """The supporter-facing words for what a network did."""
    if error.kind is ErrorKind.UNAVAILABLE:
        return _("%(network)s did not answer. Try again in a moment.", network=network)
    if error.kind is ErrorKind.NOT_SUPPORTED:
        return _("%(network)s does not answer as a Mastodon server. Check the address.", network=network)
    if error.kind is ErrorKind.RATE_LIMITED:
        return _("%(network)s asks us to slow down. Try again in a few minutes.", network=network)
    return _("%(network)s refused: %(reason)s", network=network, reason=error.reason or error.kind.value)


def _finish(network: Network, profile: Profile, secrets_: dict[str, Any], next_path: str, **fields: Any) -> Response:
    supporter = services.get_or_create_supporter(current_supporter_id(), language=str(get_locale() or "fr"))
    account = services.connect(supporter, network, profile, secrets_, **fields)
    db.session.commit()
    session["supporter"] = supporter.id
    session.permanent = True
    flash(
        _(
            "Connected as %(handle)s on %(network)s. Nothing is posted unless you press the button, with the text "
            "you see.",
            handle=account.label,
            network=network.label,
        ),
        "success",
    )
    return redirect(next_path)


def _start_oauth(network: Network, next_path: str, **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    session["oauth"] = {"network": network.value, "state": state, "verifier": verifier, "next": next_path, **extra}
    return state, challenge


def _pending_oauth(network: Network) -> dict[str, str] | Response:
    """The flow this callback finishes (checked against its `state`), or where to go when there is none."""
    pending = session.pop("oauth", None)
    if (
        not isinstance(pending, dict)
        or pending.get("network") != network.value
        or request.args.get("state") != pending.get("state")
    ):
        flash(_("This connection link has expired. Start again."), "error")
        return redirect(url_for(".accounts"))
    if request.args.get("error") or not request.args.get("code"):
        flash(_("You cancelled: no account was connected."), "info")
        return redirect(pending["next"])
    return pending


@bp.route("/connect/x")
def connect_x() -> Response:
    state, challenge = _start_oauth(Network.X, safe_next(request.args.get("next")))
    return redirect(
        x.authorize_url(
            endpoint(Network.X), x_app(public_url("supporters.x_callback")), state=state, challenge=challenge
        )
    )


@bp.route("/connect/x/callback")
def x_callback() -> Response:
    pending = _pending_oauth(Network.X)
    if isinstance(pending, Response):
        return pending
    next_path = pending["next"]
    ep = endpoint(Network.X)
    try:
        tokens = x.exchange_code(
            ep, x_app(public_url("supporters.x_callback")), code=request.args["code"], verifier=pending["verifier"]
        )
        profile = x.profile(ep, tokens.access)
    except ChannelError as error:
        flash(explain(error, "X"), "error")
        return redirect(next_path)
    return _finish(Network.X, profile, x_grant(tokens).secrets, next_path, expires_at=tokens.expires_at)


@bp.route("/connect/mastodon", methods=["GET", "POST"])
def connect_mastodon() -> Response | str:
    form = MastodonServerForm(next=request.args.get("next"), instance=session.get("mastodon", ""))
    if form.validate_on_submit():
        instance = normalise_instance(form.instance.data or "")
        if instance is None:
            form.instance.errors = [_("Type the address of your server, for example mastodon.social.")]
        elif not allow("connect-mastodon", CONNECT_LIMIT, hashed_client()):
            form.instance.errors = [_("Too many servers tried from your connection. Wait an hour, then try again.")]
        else:
            try:
                info = mastodon.server_info(endpoint(Network.MASTODON), instance)
                app = services.mastodon_app(instance, redirect_uri=public_url("supporters.mastodon_callback"))
                db.session.commit()
            except ChannelError as error:
                form.instance.errors = [explain(error, instance)]
            else:
                session["mastodon"] = instance
                state, challenge = _start_oauth(
                    Network.MASTODON, safe_next(form.next.data), instance=instance, limit=str(info.max_characters)
                )
                return redirect(
                    mastodon.authorize_url(
                        endpoint(Network.MASTODON),
                        app,
                        state=state,
                        challenge=challenge,
                        redirect_uri=public_url("supporters.mastodon_callback"),
                    )
                )
    return render_template("supporters/connect_mastodon.html", form=form)


@bp.route("/connect/mastodon/callback")
def mastodon_callback() -> Response:
    pending = _pending_oauth(Network.MASTODON)
    if isinstance(pending, Response):
        return pending
    next_path, instance = pending["next"], pending["instance"]
    ep = endpoint(Network.MASTODON)
    redirect_uri = public_url("supporters.mastodon_callback")
    try:
        app = services.mastodon_app(instance, redirect_uri=redirect_uri)
        token = mastodon.exchange_code(
            ep, app, redirect_uri=redirect_uri, code=request.args["code"], verifier=pending["verifier"]
        )
        profile = mastodon.profile(ep, instance, token)
    except ChannelError as error:
        if error.reason == "invalid_client":
            services.forget_mastodon_app(instance)
            db.session.commit()
        flash(explain(error, instance), "error")
        return redirect(next_path)
    return _finish(
        Network.MASTODON,
        profile,
        {"access": token},
        next_path,
        instance=instance,
        char_limit=int(pending.get("limit") or mastodon.DEFAULT_LIMIT),
    )


@bp.route("/connect/bluesky", methods=["GET", "POST"])
def connect_bluesky() -> Response | str:
    form = BlueskyForm(next=request.args.get("next"))
    if form.validate_on_submit():
        password = (form.app_password.data or "").strip()
        try:
            handle = bluesky.normalise_handle(form.handle.data or "")
        except ValueError:
            form.handle.errors = [_("A Bluesky handle looks like camille.bsky.social or a domain of yours.")]
        else:
            if not bluesky.looks_like_app_password(password):
                form.app_password.errors = [_("Use an app password (abcd-efgh-ijkl-mnop), never your main password.")]
            else:
                ep = endpoint(Network.BLUESKY)
                try:
                    bsky = bluesky.create_session(ep, handle, password)
                    profile = bluesky.profile(ep, bsky)
                except ChannelError as error:
                    if error.kind is ErrorKind.AUTH_FAILED:
                        form.app_password.errors = [_("Bluesky refused this handle and app password. Check both.")]
                    else:
                        form.handle.errors = [explain(error, "Bluesky")]
                else:
                    return _finish(
                        Network.BLUESKY,
                        profile,
                        bsky.as_dict(),
                        safe_next(form.next.data),
                        instance=bsky.service,
                        expires_at=bsky.expires_at,
                    )
    return render_template("supporters/connect_bluesky.html", form=form, is_sandbox=not is_live(Network.BLUESKY))


@bp.route("/accounts")
def accounts() -> str:
    supporter_id = current_supporter_id()
    return render_template(
        "supporters/accounts.html",
        accounts=list(services.accounts_of(supporter_id).values()),
        consents=services.consents_of(supporter_id) if supporter_id else [],
        networks=connectable_networks(),
    )


@bp.route("/accounts/<network>/disconnect", methods=["POST"])
def disconnect(network: str) -> Response:
    try:
        chosen = Network(network)
    except ValueError:
        abort(404)
    account: SocialAccount | None = services.accounts_of(current_supporter_id()).get(chosen)
    if account is None:
        abort(404)
    result = services.disconnect(account)
    db.session.commit()
    if result.revoked_at_network:
        flash(
            _(
                "Disconnected %(handle)s: %(network)s revoked our access and we deleted the tokens.",
                handle="@" + result.handle,
                network=chosen.label,
            ),
            "success",
        )
    else:
        flash(
            _(
                "Disconnected %(handle)s: we deleted the tokens, but %(network)s did not answer; you can also "
                "remove Porte-voix from the apps in your %(network)s settings.",
                handle="@" + result.handle,
                network=chosen.label,
            ),
            "info",
        )
    return redirect(safe_next(request.form.get("next")))
