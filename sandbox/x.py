"""A stand-in for the X API v2 and its OAuth 2.0 (PKCE) as SOCIAL_APIS.md §1 and §4.3 describe them.

Reached through tweepy's own session with our adapter: every path here is X's path under `/x`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, render_template, request
from twitter_text import parse_tweet
from werkzeug.wrappers import Response

from sandbox.faults import api, bearer, json_error, late, state
from sandbox.oauth import back_to_app, challenge_of, consent_page
from sandbox.state import Posted, followers_for

bp = Blueprint("x", __name__)
CODE_SECONDS = 30
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_CASHTAG = re.compile(r"(?:^|\s)\$[A-Za-z]{1,6}\b")


@dataclass
class XUser:
    id: str
    username: str
    followers: int
    posted_texts: dict[str, float] = field(default_factory=dict)  # text → when (duplicate check)


def _problem(status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status, **extra}


def _unavailable() -> Response:
    return json_error(503, _problem(503, "Service Unavailable", "Service Unavailable"))


def _unauthorized() -> Response:
    return json_error(401, _problem(401, "Unauthorized", "Unauthorized"))


def _user(username: str) -> XUser:
    users = state().table("x", "users")
    key = username.lower()
    if key not in users:
        users[key] = XUser(str(state().next_id() * 1_000_000_007 % 10**19), username, followers_for(username))
    user: XUser = users[key]
    return user


def _token_user(scope_needed: str | None = None) -> XUser | Response:
    grant = state().table("x", "access").get(bearer())
    if grant is None or grant["expires_at"] <= state().clock.time():
        return _unauthorized()
    if scope_needed and scope_needed not in grant["scope"].split():
        return json_error(403, _problem(403, "Forbidden", f"Missing scope {scope_needed}."))
    return _user(grant["username"])


@bp.route("/i/oauth2/authorize", methods=["GET", "POST"])
def authorize() -> Response | tuple[str, int]:
    args = request.args
    scope = args.get("scope", "")
    missing = [name for name in ("client_id", "redirect_uri", "state", "code_challenge") if not args.get(name)]
    if (
        args.get("response_type") != "code"
        or missing
        or args.get("code_challenge_method", "plain") not in ("S256", "plain")
    ):
        return consent_page("X", scopes=scope, error="Something went wrong: the app's request is incomplete.")
    if request.method == "GET":
        return consent_page("X", scopes=scope)
    if request.form.get("decision") != "allow":
        return back_to_app(args["redirect_uri"], error="access_denied", state=args["state"])
    username = request.form.get("username", "").strip().lstrip("@")
    if not _USERNAME.match(username):
        return consent_page("X", scopes=scope, error="A username is 1 to 15 letters, digits or _.")
    _user(username)
    code = secrets.token_urlsafe(24)
    state().table("x", "codes")[code] = {
        "username": username,
        "client_id": args["client_id"],
        "redirect_uri": args["redirect_uri"],
        "challenge": args["code_challenge"],
        "method": args.get("code_challenge_method", "plain"),
        "scope": scope,
        "expires_at": state().clock.time() + CODE_SECONDS,
    }
    return back_to_app(args["redirect_uri"], state=args["state"], code=code)


def _grant(username: str, scope: str) -> dict[str, Any]:
    sandbox = state()
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = sandbox.knobs.x_token_seconds
    sandbox.table("x", "access")[access] = {
        "username": username,
        "scope": scope,
        "expires_at": sandbox.clock.time() + lifetime,
        "refresh": refresh,
    }
    if "offline.access" in scope.split():
        sandbox.table("x", "refresh")[refresh] = {"username": username, "scope": scope, "access": access}
    body = {"token_type": "bearer", "expires_in": lifetime, "access_token": access, "scope": scope}
    if "offline.access" in scope.split():
        body["refresh_token"] = refresh
    return body


def _invalid(detail: str) -> Response:
    return json_error(400, {"error": "invalid_request", "error_description": detail})


@bp.route("/2/oauth2/token", methods=["POST"])
@api(_unavailable)
def token() -> Response:
    form = request.form
    with state().lock:
        if form.get("grant_type") == "authorization_code":
            code = state().table("x", "codes").pop(form.get("code", ""), None)
            if code is None or code["expires_at"] < state().clock.time():
                return _invalid("Value passed for the authorization code was invalid.")
            verifier = form.get("code_verifier", "")
            if (
                form.get("redirect_uri") != code["redirect_uri"]
                or challenge_of(verifier, code["method"]) != code["challenge"]
            ):
                return _invalid("Value passed for the authorization code was invalid.")
            return json_error(200, _grant(code["username"], code["scope"]))
        if form.get("grant_type") == "refresh_token":
            # Single-use: the refresh token is consumed, and the grant it came with ends.
            grant = state().table("x", "refresh").pop(form.get("refresh_token", ""), None)
            if grant is None:
                return _invalid("Value passed for the token was invalid.")
            state().table("x", "access").pop(grant["access"], None)
            return json_error(200, _grant(grant["username"], grant["scope"]))
    return _invalid("Missing required parameter [grant_type].")


@bp.route("/2/oauth2/revoke", methods=["POST"])
@api(_unavailable)
def revoke() -> Response:
    with state().lock:
        grant = state().table("x", "access").pop(request.form.get("token", ""), None)
        if grant:
            state().table("x", "refresh").pop(grant["refresh"], None)
    return json_error(200, {"revoked": True})


def _limits(user: XUser) -> tuple[Response | None, dict[str, str]]:
    knobs = state().knobs
    allowed, remaining, reset = state().take(f"x:user:{user.id}", 1, knobs.x_posts_per_window, knobs.x_window_seconds)
    headers = {
        "x-rate-limit-limit": str(knobs.x_posts_per_window),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(reset)),
    }
    app_ok, app_remaining, app_reset = (
        (True, 1, 0.0) if not allowed else state().take("x:app", 1, knobs.x_app_posts_per_day, 86_400)
    )
    if allowed and not app_ok:
        headers.update(
            {
                "x-app-limit-24hour-limit": str(knobs.x_app_posts_per_day),
                "x-app-limit-24hour-remaining": "0",
                "x-app-limit-24hour-reset": str(int(app_reset)),
            }
        )
    if not allowed or not app_ok:
        return json_error(429, _problem(429, "Too Many Requests", "Too Many Requests"), headers), headers
    return None, headers


@bp.route("/2/tweets", methods=["POST"])
@api(_unavailable)
def create_post() -> Response:
    user = _token_user("tweet.write")
    if isinstance(user, Response):
        return user
    sandbox = state()
    if sandbox.knobs.x_credits_depleted:
        return json_error(
            402, _problem(402, "Payment Required", "credits depleted", "https://api.x.com/2/problems/credits-depleted")
        )
    if sandbox.burst():
        reset = (
            {}
            if sandbox.knobs.omit_reset_headers
            else {
                "x-rate-limit-limit": str(sandbox.knobs.x_posts_per_window),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(sandbox.clock.time() + sandbox.knobs.burst_reset_seconds)),
            }
        )
        return json_error(429, _problem(429, "Too Many Requests", "Too Many Requests"), reset)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return json_error(
            400,
            _problem(
                400,
                "Invalid Request",
                "One or more parameters to your request was invalid.",
                "https://api.twitter.com/2/problems/invalid-request",
            ),
        )
    text = body["text"]
    if not parse_tweet(text).valid:
        return json_error(
            400,
            {
                "errors": [{"message": "Your Tweet text is too long.", "parameters": {"text": [text]}}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
        )
    if len(_CASHTAG.findall(text)) > 1:
        return json_error(
            400,
            _problem(
                400,
                "Invalid Request",
                "Only one cashtag is allowed per post.",
                "https://api.twitter.com/2/problems/invalid-request",
            ),
        )
    with sandbox.lock:
        if text in user.posted_texts:
            return json_error(
                403, _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
            )
        limited, headers = _limits(user)
        if limited is not None:
            return limited
        post_id = str(sandbox.next_id() * 1_000_003)
        user.posted_texts[text] = sandbox.clock.time()
        sandbox.table("x", "posts")[post_id] = {
            "id": post_id,
            "text": text,
            "author": user.username,
            "likes": 0,
            "reposts": 0,
            "replies": 0,
            "quotes": 0,
        }
    sandbox.record(
        Posted("x", "@" + user.username, text, f"/x/{user.username}/status/{post_id}", post_id, sandbox.clock.now())
    )
    response = json_error(201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}, headers)
    response.headers["Location"] = f"https://api.twitter.com/2/tweets/{post_id}"
    return late(response)


@bp.route("/2/tweets/<post_id>", methods=["DELETE"])
@api(_unavailable)
def delete_post(post_id: str) -> Response:
    user = _token_user("tweet.write")
    if isinstance(user, Response):
        return user
    with state().lock:
        post = state().table("x", "posts").get(post_id)
        if post is None or post["author"] != user.username:
            return json_error(404, _problem(404, "Not Found Error", f"Could not find post with id: [{post_id}]."))
        del state().table("x", "posts")[post_id]
        user.posted_texts.pop(post["text"], None)
        for posted in state().posted:
            if posted.network == "x" and posted.remote_id == post_id:
                posted.deleted = True
    return json_error(200, {"data": {"deleted": True}})


@bp.route("/2/users/me")
@api(_unavailable)
def me() -> Response:
    user = _token_user("users.read")
    if isinstance(user, Response):
        return user
    data: dict[str, Any] = {"id": user.id, "name": user.username.replace("_", " "), "username": user.username}
    if "public_metrics" in request.args.get("user.fields", ""):
        posts = sum(1 for p in state().table("x", "posts").values() if p["author"] == user.username)
        data["public_metrics"] = {
            "followers_count": user.followers,
            "following_count": 12,
            "tweet_count": posts,
            "listed_count": 0,
            "like_count": 0,
            "media_count": 0,
        }
    return json_error(200, {"data": data})


@bp.route("/2/tweets")
@api(_unavailable)
def lookup_posts() -> Response:
    user = _token_user("tweet.read")
    if isinstance(user, Response):
        return user
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        return json_error(400, _problem(400, "Invalid Request", "The `ids` query parameter needs 1 to 100 ids."))
    posts = state().table("x", "posts")
    data, errors = [], []
    for post_id in ids:
        post = posts.get(post_id)
        if post is None:
            errors.append(
                {
                    "value": post_id,
                    "detail": f"Could not find tweet with ids: [{post_id}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "resource_id": post_id,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            )
            continue
        item: dict[str, Any] = {"id": post_id, "text": post["text"], "edit_history_tweet_ids": [post_id]}
        if "public_metrics" in request.args.get("tweet.fields", ""):
            item["public_metrics"] = {
                "retweet_count": post["reposts"],
                "reply_count": post["replies"],
                "like_count": post["likes"],
                "quote_count": post["quotes"],
                "bookmark_count": 0,
                "impression_count": 0,
            }
        data.append(item)
    body: dict[str, Any] = {"data": data} if data else {}
    if errors:
        body["errors"] = errors
    return json_error(200, body)


@bp.route("/<username>/status/<post_id>")
def show(username: str, post_id: str) -> str:
    post = state().table("x", "posts").get(post_id)
    if post is None or post["author"].lower() != username.lower():
        abort(404)
    return render_template("sandbox/post.html", network="X", author="@" + post["author"], post=post)
