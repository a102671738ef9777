"""A stand-in for Mastodon servers (any host name is an instance), as SOCIAL_APIS.md §2 and §4.3 describe them.

Paths are Mastodon's under `/mastodon/<instance>`. Instances named in the `down_hosts` knob never
answer in time; those in `not_mastodon_hosts` answer like a web server that is not Mastodon.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from html import escape
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from channels.mastodon import check_length
from sandbox.faults import api, bearer, json_error, late, state
from sandbox.oauth import back_to_app, challenge_of, consent_page
from sandbox.state import Posted, followers_for

bp = Blueprint("mastodon", __name__)
IDEMPOTENCY_SECONDS = 3600
REQUESTS_PER_5_MINUTES = 300
VISIBILITIES = ("public", "unlisted", "private", "direct")


@bp.before_request
def _instance_faults() -> Response | None:
    instance = (request.view_args or {}).get("instance", "")
    knobs = state().knobs
    if instance in knobs.down_hosts:
        time.sleep(knobs.timeout_seconds)
        return Response("", status=504)
    if instance in knobs.not_mastodon_hosts:
        return Response("<html><body><h1>Welcome to nginx!</h1></body></html>", status=404, mimetype="text/html")
    return None


def _unavailable() -> Response:
    return Response("<html><body>503 Service Temporarily Unavailable</body></html>", status=503, mimetype="text/html")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _account(instance: str, username: str) -> dict[str, Any]:
    accounts = state().table("mastodon", "accounts")
    key = (instance, username.lower())
    if key not in accounts:
        accounts[key] = {
            "id": str(state().next_id()),
            "username": username,
            "acct": username,
            "display_name": username.replace("_", " ").title(),
            "instance": instance,
            "followers_count": followers_for(f"{username}@{instance}"),
            "bot": False,
        }
    account: dict[str, Any] = accounts[key]
    return account


def _token_account(instance: str) -> dict[str, Any] | Response:
    grant = state().table("mastodon", "tokens").get(bearer())
    if grant is None or grant["instance"] != instance or grant["username"] is None:
        return json_error(401, {"error": "The access token is invalid"})
    return _account(instance, grant["username"])


@bp.route("/api/v2/instance")
@api(_unavailable)
def instance_info(instance: str) -> Response:
    return json_error(
        200,
        {
            "domain": instance,
            "title": f"{instance} (sandbox)",
            "version": "4.3.0",
            "configuration": {
                "statuses": {
                    "max_characters": state().knobs.mastodon_max_characters,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                }
            },
        },
    )


@bp.route("/api/v1/instance/rules")
@api(_unavailable)
def rules(instance: str) -> Response:
    return json_error(200, [{"id": "1", "text": "No spam: do not post the same content across many accounts."}])


@bp.route("/api/v1/apps", methods=["POST"])
@api(_unavailable)
def create_app(instance: str) -> Response:
    values = request.get_json(silent=True) or request.form
    redirect_uris = values.get("redirect_uris")
    if not values.get("client_name") or not redirect_uris:
        return json_error(422, {"error": "Validation failed: Redirect URI must be an absolute URI."})
    client_id, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    app = {
        "id": str(state().next_id()),
        "name": values["client_name"],
        "website": values.get("website"),
        "scopes": (values.get("scopes") or "read").split(),
        "redirect_uris": str(redirect_uris).split(),
        "client_id": client_id,
        "client_secret": secret,
        "client_secret_expires_at": 0,
        "instance": instance,
    }
    state().table("mastodon", "apps")[client_id] = app
    return json_error(200, {**{k: v for k, v in app.items() if k != "instance"}, "redirect_uri": redirect_uris})


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize(instance: str) -> Response | tuple[str, int]:
    args = request.args
    app = state().table("mastodon", "apps").get(args.get("client_id", ""))
    scope = args.get("scope", "read")
    if app is None or app["instance"] != instance:
        return consent_page(
            "Mastodon", scopes=scope, instance=instance, error="Client authentication failed due to unknown client."
        )
    if args.get("redirect_uri") not in app["redirect_uris"] or args.get("response_type") != "code":
        return consent_page(
            "Mastodon", scopes=scope, instance=instance, error="The redirect uri included is not valid."
        )
    if "code_challenge" in args and args.get("code_challenge_method") != "S256":
        return consent_page("Mastodon", scopes=scope, instance=instance, error="PKCE supports S256 only.")
    if request.method == "GET":
        return consent_page("Mastodon", scopes=scope, instance=instance)
    if request.form.get("decision") != "allow":
        return back_to_app(args["redirect_uri"], error="access_denied", state=args.get("state", ""))
    username = request.form.get("username", "").strip().lstrip("@").split("@")[0]
    if not username.replace("_", "").isalnum():
        return consent_page("Mastodon", scopes=scope, instance=instance, error="A username is letters, digits or _.")
    _account(instance, username)
    code = secrets.token_urlsafe(24)
    state().table("mastodon", "codes")[code] = {
        "username": username,
        "client_id": app["client_id"],
        "redirect_uri": args["redirect_uri"],
        "scope": scope,
        "challenge": args.get("code_challenge"),
    }
    return back_to_app(args["redirect_uri"], code=code, state=args.get("state", ""))


@bp.route("/oauth/token", methods=["POST"])
@api(_unavailable)
def token(instance: str) -> Response:
    form = request.get_json(silent=True) or request.form
    app = state().table("mastodon", "apps").get(form.get("client_id", ""))
    if app is None or app["client_secret"] != form.get("client_secret") or app["instance"] != instance:
        return json_error(
            401,
            {
                "error": "invalid_client",
                "error_description": "Client authentication failed due "
                "to unknown client, no client authentication included, or unsupported authentication "
                "method.",
            },
        )
    access = secrets.token_urlsafe(32)
    if form.get("grant_type") == "client_credentials":
        state().table("mastodon", "tokens")[access] = {
            "instance": instance,
            "username": None,
            "client_id": app["client_id"],
        }
        return json_error(200, {"access_token": access, "token_type": "Bearer", "scope": "read", "created_at": 0})
    code = state().table("mastodon", "codes").pop(form.get("code", ""), None)
    if (
        code is None
        or code["client_id"] != app["client_id"]
        or code["redirect_uri"] != form.get("redirect_uri")
        or (code["challenge"] and challenge_of(form.get("code_verifier", "")) != code["challenge"])
    ):
        return json_error(
            400,
            {
                "error": "invalid_grant",
                "error_description": "The provided authorization grant is "
                "invalid, expired, revoked, does not match the redirection URI used in the "
                "authorization request, or was issued to another client.",
            },
        )
    state().table("mastodon", "tokens")[access] = {
        "instance": instance,
        "username": code["username"],
        "client_id": app["client_id"],
    }
    return json_error(
        200,
        {
            "access_token": access,
            "token_type": "Bearer",
            "scope": code["scope"],
            "created_at": int(state().clock.time()),
        },
    )


@bp.route("/oauth/revoke", methods=["POST"])
@api(_unavailable)
def revoke(instance: str) -> Response:
    form = request.get_json(silent=True) or request.form
    app = state().table("mastodon", "apps").get(form.get("client_id", ""))
    if app is None or app["client_secret"] != form.get("client_secret"):
        return json_error(403, {"error": "unauthorized_client"})
    state().table("mastodon", "tokens").pop(form.get("token", ""), None)
    return json_error(200, {})


@bp.route("/api/v1/accounts/verify_credentials")
@api(_unavailable)
def verify_credentials(instance: str) -> Response:
    account = _token_account(instance)
    if isinstance(account, Response):
        return account
    return json_error(200, {k: v for k, v in account.items() if k != "instance"})


def _status_json(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if not k.startswith("_")}


@bp.route("/api/v1/statuses", methods=["POST"])
@api(_unavailable)
def create_status(instance: str) -> Response:
    account = _token_account(instance)
    if isinstance(account, Response):
        return account
    sandbox = state()
    knobs = sandbox.knobs
    now = sandbox.clock.time()
    requests_ok, _, requests_reset = sandbox.take(f"m:req:{account['id']}", 1, REQUESTS_PER_5_MINUTES, 300)
    if sandbox.burst() or not requests_ok:
        headers = (
            {}
            if knobs.omit_reset_headers
            else {
                "X-RateLimit-Limit": str(REQUESTS_PER_5_MINUTES),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": _iso(requests_reset if not requests_ok else now + knobs.burst_reset_seconds),
            }
        )
        return json_error(429, {"error": "Too many requests"}, headers)
    values = request.get_json(silent=True) or request.form
    text = str(values.get("status") or "")
    visibility = values.get("visibility") or "public"
    if visibility not in VISIBILITIES:
        return json_error(422, {"error": "Validation failed: Visibility is not included in the list"})
    if not text.strip():
        return json_error(422, {"error": "Validation failed: Text can't be blank"})
    limit = knobs.mastodon_max_characters
    if not check_length(text, limit=limit).ok:
        return json_error(422, {"error": f"Validation failed: Text character limit of {limit} exceeded"})
    key = request.headers.get("Idempotency-Key")
    with sandbox.lock:
        known = sandbox.table("mastodon", "idempotency").get((account["id"], key)) if key else None
        if known and known[1] > now - IDEMPOTENCY_SECONDS:
            return json_error(200, _status_json(sandbox.table("mastodon", "statuses")[known[0]]))
        allowed, remaining, reset = sandbox.take(
            f"m:statuses:{account['id']}", 1, knobs.mastodon_statuses_per_window, knobs.mastodon_window_seconds
        )
        headers = {
            "X-RateLimit-Limit": str(knobs.mastodon_statuses_per_window),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": _iso(reset),
        }
        if not allowed:
            return json_error(429, {"error": "Too many requests"}, headers)
        status_id = str(sandbox.next_id())
        url = f"https://{instance}/@{account['username']}/{status_id}"
        # Mentions of accounts the instance knows become links; unknown ones stay plain text, as upstream.
        content = "<p>" + escape(text).replace("\n", "<br />") + "</p>"
        status = {
            "id": status_id,
            "created_at": _iso(now),
            "visibility": visibility,
            "url": url,
            "uri": f"https://{instance}/users/{account['username']}/statuses/{status_id}",
            "content": content,
            "account": {k: v for k, v in account.items() if k != "instance"},
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "quotes_count": 0,
            "_text": text,
        }
        sandbox.table("mastodon", "statuses")[status_id] = status
        if key:
            sandbox.table("mastodon", "idempotency")[(account["id"], key)] = (status_id, now)
    sandbox.record(
        Posted(
            "mastodon",
            f"@{account['username']}@{instance}",
            text,
            f"/mastodon/{instance}/@{account['username']}/{status_id}",
            status_id,
            sandbox.clock.now(),
        )
    )
    return late(json_error(200, _status_json(status), headers))


def _status_on(instance: str, status_id: str) -> dict[str, Any] | None:
    """A status of this instance's, or None (another instance's ids are not found here)."""
    status: dict[str, Any] | None = state().table("mastodon", "statuses").get(status_id)
    return status if status is not None and status["url"].startswith(f"https://{instance}/") else None


@bp.route("/api/v1/statuses/<status_id>")
@api(_unavailable)
def get_status(instance: str, status_id: str) -> Response:
    status = _status_on(instance, status_id)
    if status is None:
        return json_error(404, {"error": "Record not found"})
    return json_error(200, _status_json(status))


@bp.route("/api/v1/statuses/<status_id>/context")
@api(_unavailable)
def status_context(instance: str, status_id: str) -> Response:
    """The replies to a status (its descendants), as their authors' instances federated them."""
    status = _status_on(instance, status_id)
    if status is None:
        return json_error(404, {"error": "Record not found"})
    descendants = []
    for reply in status.get("_thread", []):
        user, _, host = reply["author"].partition("@")
        descendants.append(
            {
                "id": reply["id"],
                "in_reply_to_id": status_id,
                "created_at": _iso(reply["at"].timestamp()),
                "url": f"https://{host or instance}/@{user}/{reply['id']}",
                "content": "<p>" + escape(reply["text"]) + "</p>",
                "account": {"acct": reply["author"], "username": user},
            }
        )
    return json_error(200, {"ancestors": [], "descendants": descendants})


@bp.route("/api/v1/accounts/lookup")
@api(_unavailable)
def lookup(instance: str) -> Response:
    acct = request.args.get("acct", "").lstrip("@")
    user, _, host = acct.partition("@")
    account = state().table("mastodon", "accounts").get(((host or instance), user.lower()))
    if account is None:
        return json_error(404, {"error": "Record not found"})
    return json_error(200, {k: v for k, v in account.items() if k != "instance"})


@bp.route("/api/v1/accounts/<account_id>/statuses")
@api(_unavailable)
def account_statuses(instance: str, account_id: str) -> Response:
    limit = min(int(request.args.get("limit", 20)), 40)
    statuses = [
        s
        for s in state().table("mastodon", "statuses").values()
        if s["account"]["id"] == account_id and s["visibility"] in ("public", "unlisted")
    ]
    statuses.sort(key=lambda s: int(s["id"]), reverse=True)
    return json_error(200, [_status_json(s) for s in statuses[:limit]])


@bp.route("/@<username>/<status_id>")
def show(instance: str, username: str, status_id: str) -> str:
    status = state().table("mastodon", "statuses").get(status_id)
    if status is None or status["account"]["username"].lower() != username.lower():
        abort(404)
    return render_template(
        "sandbox/post.html",
        network="Mastodon",
        author=f"@{username}@{instance}",
        post={"text": status["_text"], "id": status_id},
    )
