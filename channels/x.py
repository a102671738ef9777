"""X: weighted length (twitter-text v3: 280, URLs 23, CJK and emoji 2), the Web Intent link, and the API.

The API is reached through tweepy with OAuth 2.0 user tokens (PKCE), `user_auth=False` on every call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import tweepy
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session
from twitter_text import parse_tweet

from channels import LengthCheck, Network, http, unwrap_handle
from channels.api import PostMetrics, PostResult, Profile, Tokens
from channels.errors import ChannelError, ErrorKind, rate_limited, rate_state, server_error, transport_error
from channels.http import Endpoint

LIMIT = 280
INTENT_URL = "https://x.com/intent/tweet"


def check_length(text: str) -> LengthCheck:
    result = parse_tweet(text)
    return LengthCheck(Network.X, result.weightedLength, LIMIT, detail="weighted; links count 23")


def compose_url(text: str) -> str:
    return f"{INTENT_URL}?text={quote(text, safe='')}"


_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_PROFILE_URL = re.compile(r"^(?:https?://)?(?:www\.|mobile\.)?(?:twitter|x)\.com/(?:#!/)?([^/?#]+)", re.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """`@Name`, `x.com/Name`, `https://twitter.com/Name` → `Name`. Raises ValueError when invalid."""
    value = unwrap_handle(raw, _PROFILE_URL)
    if not _HANDLE.match(value):
        raise ValueError(f"not an X handle: {raw.strip()!r} (1 to 15 letters, digits or _)")
    return value


# --- The API, through tweepy (the only module that imports it) -------------------------------------------

SCOPES = ["tweet.read", "tweet.write", "users.read", "offline.access"]
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
TOKEN_URL = "https://api.x.com/2/oauth2/token"  # noqa: S105 (an address, not a secret)
REVOKE_URL = "https://api.x.com/2/oauth2/revoke"
_DUPLICATE = "duplicate content"


@dataclass(frozen=True)
class XApp:
    """This deployment's X app: a public client (PKCE only) or a confidential one (with a secret)."""

    client_id: str
    client_secret: str | None
    redirect_uri: str


def _handler(endpoint: Endpoint, app: XApp) -> tweepy.OAuth2UserHandler:
    handler = tweepy.OAuth2UserHandler(
        client_id=app.client_id, redirect_uri=app.redirect_uri, scope=SCOPES, client_secret=app.client_secret
    )
    http.mount(handler, endpoint, "x")  # the handler is itself a requests session (OAuth2Session)
    return handler


def authorize_url(endpoint: Endpoint, app: XApp, *, state: str, challenge: str) -> str:
    """Where the supporter's browser goes to grant us the scopes (X's page, or the sandbox's)."""
    url, _state = _handler(endpoint, app).authorization_url(
        AUTHORIZE_URL, state=state, code_challenge=challenge, code_challenge_method="S256"
    )
    return endpoint.url("x", url)


def _tokens(raw: dict[str, Any]) -> Tokens:
    expires_at = raw.get("expires_at")
    return Tokens(
        access=str(raw["access_token"]),
        refresh=raw.get("refresh_token"),
        expires_at=datetime.fromtimestamp(float(expires_at), UTC) if expires_at else None,
        scope=" ".join(raw["scope"]) if isinstance(raw.get("scope"), list) else str(raw.get("scope", "")),
    )


def _oauth_call(call: Any, failure: ErrorKind) -> Tokens:
    try:
        return _tokens(call())
    except requests.RequestException as exc:
        raise transport_error(exc, "X") from exc
    except OAuth2Error as exc:
        if (exc.status_code or 0) >= 500:
            raise server_error(exc.status_code, "X") from exc
        raise ChannelError(failure, exc.description or exc.error) from exc


def exchange_code(endpoint: Endpoint, app: XApp, *, code: str, verifier: str) -> Tokens:
    """The tokens for an authorisation code (30 seconds to live). Raises ChannelError(AUTH_FAILED)."""
    handler = _handler(endpoint, app)
    # OAuth2Session.fetch_token, not tweepy's override: we hold the code, and checked `state` ourselves.
    return _oauth_call(
        lambda: OAuth2Session.fetch_token(
            handler, TOKEN_URL, code=code, code_verifier=verifier, auth=handler.auth, include_client_id=True
        ),
        ErrorKind.AUTH_FAILED,
    )


def refresh(endpoint: Endpoint, app: XApp, refresh_token: str) -> Tokens:
    """New tokens. X's refresh tokens are single-use: store the new one before anything else can fail."""
    handler = _handler(endpoint, app)
    extra = {} if app.client_secret else {"client_id": app.client_id}
    return _oauth_call(
        lambda: handler.refresh_token(TOKEN_URL, refresh_token=refresh_token, auth=handler.auth, **extra),
        ErrorKind.AUTH_EXPIRED,
    )


def revoke(endpoint: Endpoint, app: XApp, token: str) -> None:
    """Ask X to forget the token. Raises ChannelError when X could not be reached."""
    auth = (app.client_id, app.client_secret) if app.client_secret else None
    try:
        response = endpoint.session("x").post(
            REVOKE_URL, data={"token": token, "client_id": app.client_id, "token_type_hint": "access_token"}, auth=auth
        )
    except requests.RequestException as exc:
        raise transport_error(exc, "X") from exc
    if response.status_code >= 500:
        raise server_error(response.status_code, "X")


def _client(endpoint: Endpoint, access_token: str) -> tweepy.Client:
    # wait_on_rate_limit would sleep in our thread and retry without bound when headers are missing.
    client = tweepy.Client(bearer_token=access_token, return_type=requests.Response, wait_on_rate_limit=False)
    http.mount(client.session, endpoint, "x")
    return client


def _retry_at(headers: Any) -> datetime | None:
    """The latest reset among the exhausted windows (15 minutes, 24 hours for the user and the app)."""
    windows = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
    states = [rate_state(headers, prefix) for prefix in windows]
    exhausted = [s.reset_at for s in states if s.remaining == 0 and s.reset_at]
    if exhausted:
        return max(exhausted)
    # A 429 may come from a cap the 15-minute headers do not describe: then their reset is the earliest try.
    return next((s.reset_at for s in states if s.reset_at), None)


def _call(call: Any) -> requests.Response:
    """Run a tweepy call and turn what it raises into ChannelError."""
    try:
        response: requests.Response = call()
        return response
    except requests.RequestException as exc:
        raise transport_error(exc, "X") from exc
    except tweepy.TooManyRequests as exc:
        raise rate_limited(_retry_at(exc.response.headers), "X's rate limit") from exc
    except tweepy.Unauthorized as exc:
        raise ChannelError(ErrorKind.AUTH_EXPIRED, "X no longer accepts this account's token") from exc
    except tweepy.Forbidden as exc:
        reason = "; ".join(exc.api_messages) or "forbidden"
        kind = ErrorKind.DUPLICATE if _DUPLICATE in reason.lower() else ErrorKind.REJECTED
        raise ChannelError(kind, reason) from exc
    except tweepy.TwitterServerError as exc:
        raise server_error(exc.response.status_code, "X") from exc
    except tweepy.HTTPException as exc:  # 400, 402 (credits depleted), 404…
        raise ChannelError(ErrorKind.REJECTED, "; ".join(exc.api_messages) or str(exc.response.status_code)) from exc


def post(endpoint: Endpoint, access_token: str, text: str, *, handle: str) -> PostResult:
    """Post `text` as the token's owner. X has no idempotency key: see DUPLICATE after a timeout."""
    response = _call(lambda: _client(endpoint, access_token).create_tweet(text=text, user_auth=False))
    remote_id = str(response.json()["data"]["id"])
    url = endpoint.url("x", f"https://x.com/{handle}/status/{remote_id}")
    return PostResult(remote_id, url, rate_state(response.headers, "x-rate-limit"))


def profile(endpoint: Endpoint, access_token: str) -> Profile:
    response = _call(lambda: _client(endpoint, access_token).get_me(user_auth=False, user_fields=["public_metrics"]))
    data = response.json()["data"]
    metrics = data.get("public_metrics") or {}
    return Profile(str(data["id"]), data["username"], data.get("name", ""), metrics.get("followers_count"))


def metrics(endpoint: Endpoint, access_token: str, ids: list[str]) -> list[PostMetrics]:
    """Public metrics of up to 100 posts; posts X no longer has are left out (a 200 with `errors`)."""
    if not ids:
        return []
    if len(ids) > 100:
        raise ValueError("X reads at most 100 posts at a time")
    response = _call(
        lambda: _client(endpoint, access_token).get_tweets(ids, tweet_fields=["public_metrics"], user_auth=False)
    )
    found = []
    for item in response.json().get("data") or []:
        m = item.get("public_metrics") or {}
        reposts = m.get("retweet_count", m.get("repost_count", 0))  # renamed in the 2026-08 spec
        found.append(
            PostMetrics(
                str(item["id"]), m.get("like_count", 0), reposts, m.get("reply_count", 0), m.get("quote_count", 0)
            )
        )
    return found
