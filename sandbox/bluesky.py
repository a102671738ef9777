"""A stand-in for a Bluesky PDS and the public AppView, as SOCIAL_APIS.md §3 and §4.3 describe them.

Paths are XRPC's under `/bluesky`. An unknown handle signing in with a well-formed app password
becomes an account of the sandbox (its password from then on): anyone can rehearse without sign-up.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import datetime
from typing import Any

import regex
from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from channels.bluesky import looks_like_app_password, normalise_handle
from sandbox.faults import api, bearer, json_error, late, state
from sandbox.state import Posted, followers_for

bp = Blueprint("bluesky", __name__)
REFRESH_SECONDS = 90 * 86_400
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]+$")
_RKEY = re.compile(r"^[a-zA-Z0-9._:~-]{1,512}$")


def _unavailable() -> Response:
    return json_error(503, {"error": "InternalServerError", "message": "Internal Server Error"})


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_error(status, {"error": error, "message": message}, headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jwt(did: str, scope: str, lifetime: int) -> str:
    """A JWT-shaped token with `exp`, `sub` and `scope` (clients read `exp`; nobody checks the signature)."""
    now = int(state().clock.time())
    claims = {"scope": scope, "sub": did, "iat": now, "exp": now + lifetime, "jti": secrets.token_hex(8)}
    return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"


def _accounts() -> dict[str, dict[str, Any]]:
    return state().table("bluesky", "accounts")


def _by_did(did: str) -> dict[str, Any] | None:
    return next((a for a in _accounts().values() if a["did"] == did), None)


def _by_actor(actor: str) -> dict[str, Any] | None:
    if actor.startswith("did:"):
        return _by_did(actor)
    handle = actor.lower().lstrip("@")
    account = _accounts().get(handle)
    if account is None and any(handle.endswith("." + d) for d in state().knobs.bluesky_existing_domains):
        with state().lock:  # a demo target: it exists, with a password nobody knows
            account = _accounts().get(handle) or create_account(handle, secrets.token_urlsafe(16))
    return account


def _session_account(kind: str = "access") -> dict[str, Any] | Response:
    token = bearer()
    if not token:
        return _error(401, "AuthMissing", "Authentication Required")
    session = state().table("bluesky", kind).get(token)
    if session is None:
        return _error(
            400,
            "InvalidToken" if kind == "access" else "ExpiredToken",
            "Token could not be verified" if kind == "access" else "Token has been revoked",
        )
    if session["expires_at"] <= state().clock.time():
        return _error(400, "ExpiredToken", "Token has expired")
    account = _by_did(session["did"])
    return account if account else _error(400, "InvalidToken", "Token could not be verified")


def _new_session(account: dict[str, Any]) -> dict[str, Any]:
    sandbox = state()
    lifetime = sandbox.knobs.bluesky_token_seconds
    access, refresh = (
        _jwt(account["did"], "com.atproto.appPass", lifetime),
        _jwt(account["did"], "com.atproto.refresh", REFRESH_SECONDS),
    )
    now = sandbox.clock.time()
    sandbox.table("bluesky", "access")[access] = {"did": account["did"], "expires_at": now + lifetime}
    sandbox.table("bluesky", "refresh")[refresh] = {
        "did": account["did"],
        "expires_at": now + REFRESH_SECONDS,
        "access": access,
    }
    return {
        "did": account["did"],
        "handle": account["handle"],
        "accessJwt": access,
        "refreshJwt": refresh,
        "active": True,
    }


def create_account(handle: str, password: str) -> dict[str, Any]:
    handle = normalise_handle(handle)
    account = {
        "did": f"did:plc:{secrets.token_hex(12)}",
        "handle": handle,
        "password": password,
        "followers": followers_for(handle),
        "display_name": handle.split(".")[0].title(),
    }
    _accounts()[handle] = account
    return account


@bp.route("/xrpc/com.atproto.server.createSession", methods=["POST"])
@api(_unavailable)
def create_session() -> Response:
    body = request.get_json(silent=True) or {}
    identifier, password = str(body.get("identifier", "")).lower().lstrip("@"), str(body.get("password", ""))
    sandbox = state()
    allowed, _, reset = sandbox.take(f"b:login:{identifier}", 1, sandbox.knobs.bluesky_sessions_per_window, 300)
    if not allowed:
        return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", {"RateLimit-Reset": str(int(reset))})
    with sandbox.lock:
        account = _by_actor(identifier)
        if account is None and looks_like_app_password(password):
            try:
                account = create_account(identifier, password)
            except ValueError:
                account = None
        if account is None or account["password"] != password:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        return json_error(200, _new_session(account))


@bp.route("/xrpc/com.atproto.server.refreshSession", methods=["POST"])
@api(_unavailable)
def refresh_session() -> Response:
    with state().lock:
        account = _session_account("refresh")
        if isinstance(account, Response):
            return account
        old = state().table("bluesky", "refresh").pop(bearer())
        state().table("bluesky", "access").pop(old["access"], None)
        return json_error(200, _new_session(account))


@bp.route("/xrpc/com.atproto.server.deleteSession", methods=["POST"])
@api(_unavailable)
def delete_session() -> Response:
    with state().lock:
        old = state().table("bluesky", "refresh").pop(bearer(), None)
        if old is None:
            return _error(400, "ExpiredToken", "Token has been revoked")
        state().table("bluesky", "access").pop(old["access"], None)
    return json_error(200, {})


@bp.route("/xrpc/com.atproto.identity.resolveHandle")
@api(_unavailable)
def resolve_handle() -> Response:
    account = _by_actor(request.args.get("handle", ""))
    if account is None or request.args.get("handle", "").startswith("did:"):
        return _error(400, "InvalidRequest", "Unable to resolve handle")
    return json_error(200, {"did": account["did"]})


def _validate(record: Any) -> str | None:
    """Why the post record is invalid, in the PDS's words; None when it is valid."""
    if not isinstance(record, dict) or record.get("$type") != "app.bsky.feed.post":
        return "Invalid app.bsky.feed.post record: Record/$type must be app.bsky.feed.post"
    text = record.get("text")
    if not isinstance(text, str):
        return "Invalid app.bsky.feed.post record: Record/text must be a string"
    if len(regex.findall(r"\X", text)) > 300:
        return "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
    size = len(text.encode("utf-8"))
    if size > 3000:
        return "Invalid app.bsky.feed.post record: Record/text must not be longer than 3000 characters"
    try:
        datetime.fromisoformat(str(record.get("createdAt", "")).replace("Z", "+00:00"))
    except ValueError:
        return "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime"
    end = 0
    for facet in sorted(record.get("facets") or [], key=lambda f: f.get("index", {}).get("byteStart", 0)):
        index = facet.get("index") or {}
        start, stop = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(stop, int) or not 0 <= start < stop <= size or start < end:
            return "Invalid app.bsky.feed.post record: Record/facets has an invalid or overlapping byte range"
        end = stop
        for feature in facet.get("features") or []:
            if feature.get("$type") == "app.bsky.richtext.facet#mention" and not _DID.match(str(feature.get("did"))):
                return "Invalid app.bsky.feed.post record: Record/facets/features/did must be a valid did"
    return None


@bp.route("/xrpc/com.atproto.repo.createRecord", methods=["POST"])
@api(_unavailable)
def create_record() -> Response:
    account = _session_account()
    if isinstance(account, Response):
        return account
    sandbox = state()
    knobs = sandbox.knobs
    if sandbox.burst():
        headers = (
            {}
            if knobs.omit_reset_headers
            else {
                "RateLimit-Limit": str(knobs.bluesky_points_per_hour),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(int(sandbox.clock.time() + knobs.burst_reset_seconds)),
                "RateLimit-Policy": f"{knobs.bluesky_points_per_hour};w=3600",
            }
        )
        return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
    body = request.get_json(silent=True) or {}
    if body.get("repo") not in (account["did"], account["handle"]) or body.get("collection") != "app.bsky.feed.post":
        return _error(400, "InvalidRequest", "Input/repo must be the session's own repository")
    rkey = str(body.get("rkey") or "")
    if rkey and not _RKEY.match(rkey):
        return _error(400, "InvalidRequest", "Input/rkey must be a valid record key")
    problem = _validate(body.get("record"))
    if problem:
        return _error(400, "InvalidRequest", problem)
    with sandbox.lock:
        records = sandbox.table("bluesky", "records")
        rkey = rkey or secrets.token_hex(7)
        if (account["did"], rkey) in records:
            return _error(500, "InternalServerError", "There is already a value at key: app.bsky.feed.post/" + rkey)
        hourly, remaining, reset = sandbox.take(f"b:pts:h:{account['did']}", 3, knobs.bluesky_points_per_hour, 3600)
        daily = hourly and sandbox.take(f"b:pts:d:{account['did']}", 3, knobs.bluesky_points_per_day, 86_400)[0]
        headers = {
            "RateLimit-Limit": str(knobs.bluesky_points_per_hour),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(int(reset)),
            "RateLimit-Policy": f"{knobs.bluesky_points_per_hour};w=3600",
        }
        if not hourly or not daily:
            return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        uri = f"at://{account['did']}/app.bsky.feed.post/{rkey}"
        records[(account["did"], rkey)] = {
            "uri": uri,
            "cid": "bafyrei" + secrets.token_hex(20),
            "value": body["record"],
            "author": account["handle"],
            "indexedAt": sandbox.clock.now().isoformat(),
            "likes": 0,
            "reposts": 0,
            "replies": 0,
            "quotes": 0,
        }
    sandbox.record(
        Posted(
            "bluesky",
            "@" + account["handle"],
            body["record"]["text"],
            f"/bluesky/profile/{account['handle']}/post/{rkey}",
            rkey,
            sandbox.clock.now(),
        )
    )
    cid = records[(account["did"], rkey)]["cid"]
    return late(
        json_error(
            200, {"uri": uri, "cid": cid, "commit": {"cid": cid, "rev": rkey}, "validationStatus": "valid"}, headers
        )
    )


@bp.route("/xrpc/com.atproto.repo.getRecord")
@api(_unavailable)
def get_record() -> Response:
    account = _by_actor(request.args.get("repo", ""))
    record = (
        state().table("bluesky", "records").get((account["did"], request.args.get("rkey", ""))) if account else None
    )
    if record is None:
        return _error(400, "RecordNotFound", "Could not locate record")
    return json_error(200, {"uri": record["uri"], "cid": record["cid"], "value": record["value"]})


@bp.route("/xrpc/app.bsky.actor.getProfile")
@api(_unavailable)
def get_profile() -> Response:
    account = _by_actor(request.args.get("actor", ""))
    if account is None:
        return _error(400, "InvalidRequest", "Profile not found")
    posts = sum(1 for did, _ in state().table("bluesky", "records") if did == account["did"])
    return json_error(
        200,
        {
            "did": account["did"],
            "handle": account["handle"],
            "displayName": account["display_name"],
            "followersCount": account["followers"],
            "followsCount": 10,
            "postsCount": posts,
        },
    )


def _post_view(record: dict[str, Any]) -> dict[str, Any]:
    author = _accounts()[record["author"]]
    return {
        "uri": record["uri"],
        "cid": record["cid"],
        "record": record["value"],
        "indexedAt": record["indexedAt"],
        "author": {"did": author["did"], "handle": author["handle"]},
        "likeCount": record["likes"],
        "repostCount": record["reposts"],
        "replyCount": record["replies"],
        "quoteCount": record["quotes"],
        "bookmarkCount": 0,
    }


@bp.route("/xrpc/app.bsky.feed.getPosts")
@api(_unavailable)
def get_posts() -> Response:
    uris = request.args.getlist("uris")
    if len(uris) > 25:
        return _error(400, "InvalidRequest", "Input/uris must not have more than 25 elements")
    records = {r["uri"]: r for r in state().table("bluesky", "records").values()}
    return json_error(200, {"posts": [_post_view(records[u]) for u in uris if u in records]})


@bp.route("/xrpc/app.bsky.feed.getPostThread")
@api(_unavailable)
def get_post_thread() -> Response:
    """A post and its direct replies, from the public AppView."""
    uri = request.args.get("uri", "")
    record = next((r for r in state().table("bluesky", "records").values() if r["uri"] == uri), None)
    if record is None:
        return _error(400, "NotFound", f"Post not found: {uri}")
    replies = []
    for reply in record.get("_thread", []):
        reply_uri = f"at://did:plc:{reply['author'].replace('.', '')[:24]}/app.bsky.feed.post/{reply['id']}"
        replies.append(
            {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": {
                    "uri": reply_uri,
                    "author": {"handle": reply["author"]},
                    "record": {"text": reply["text"], "createdAt": reply["at"].isoformat()},
                    "indexedAt": reply["at"].isoformat(),
                },
            }
        )
    view = {"$type": "app.bsky.feed.defs#threadViewPost", "post": _post_view(record), "replies": replies}
    return json_error(200, {"thread": view})


@bp.route("/xrpc/app.bsky.feed.getAuthorFeed")
@api(_unavailable)
def get_author_feed() -> Response:
    account = _by_actor(request.args.get("actor", ""))
    if account is None:
        return _error(400, "InvalidRequest", "Profile not found")
    limit = min(int(request.args.get("limit", 50)), 100)
    mine = [r for (did, _), r in state().table("bluesky", "records").items() if did == account["did"]]
    mine.sort(key=lambda r: r["uri"], reverse=True)  # record keys are TIDs: they sort by time
    return json_error(200, {"feed": [{"post": _post_view(r)} for r in mine[:limit]]})


@bp.route("/profile/<handle>/post/<rkey>")
def show(handle: str, rkey: str) -> str:
    account = _by_actor(handle)
    record = state().table("bluesky", "records").get((account["did"], rkey)) if account else None
    if record is None:
        abort(404)
    return render_template(
        "sandbox/post.html", network="Bluesky", author="@" + handle, post={"text": record["value"]["text"], "id": rkey}
    )
