"""Mastodon: graphemes, http(s) links count 23, `@user@domain` counts as `@user`; the share link; the API.

The API is plain requests: an app registered per instance, OAuth with PKCE, `Idempotency-Key` on posts.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import regex
import requests

from channels import LengthCheck, Network
from channels.api import PostMetrics, PostResult, Profile, PublicPost, Reply
from channels.errors import ChannelError, ErrorKind, iso, rate_limited, rate_state, server_error, transport_error
from channels.http import Endpoint

DEFAULT_LIMIT = 500
URL_LENGTH = 23
# As upstream's StatusLengthValidator: only links with a scheme are shortened.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w+(?:[.\-]+\w+)*)@[\w.\-]+\w", re.UNICODE)
# A public host name: no port (live mode reaches 443 only), no address literal, no name for a private network.
_INSTANCE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_PRIVATE_SUFFIXES = tuple(
    f".{name}"
    for name in "localhost local localdomain internal intranet private lan home corp arpa onion invalid".split()
)


def counted_text(text: str) -> str:
    text = _URL.sub("x" * URL_LENGTH, text)
    return _REMOTE_MENTION.sub(lambda match: "@" + match.group(1), text)


def check_length(text: str, *, limit: int = DEFAULT_LIMIT) -> LengthCheck:
    length = len(regex.findall(r"\X", counted_text(text)))
    return LengthCheck(Network.MASTODON, length, limit, detail="links count 23; @user@domain counts as @user")


def normalise_instance(value: str) -> str | None:
    """`https://Mastodon.Social/` → `mastodon.social`; None when it is not a host name."""
    host = value.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    host = host.split("/", 1)[0].lstrip("@")
    if "@" in host:  # someone typed their whole address, user@instance
        host = host.rsplit("@", 1)[1]
    if not _INSTANCE.match(host) or ("." + host).endswith(_PRIVATE_SUFFIXES):
        return None
    return host


def compose_url(text: str, *, instance: str) -> str:
    host = normalise_instance(instance)
    if host is None:
        raise ValueError(f"not a Mastodon instance: {instance!r}")
    return f"https://{host}/share?text={quote(text, safe='')}"


_USER = re.compile(r"^[A-Za-z0-9_]+(?:[.\-]+[A-Za-z0-9_]+)*$")
_PROFILE_URL = re.compile(r"^https?://([^/]+)/@([^/?#]+)/?$", re.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """`@user@instance`, `user@instance` or `https://instance/@user` → `user@instance`."""
    value = raw.strip()
    url = _PROFILE_URL.match(value)
    if url:
        value = f"{url.group(2)}@{url.group(1)}"
    value = value.lstrip("@")
    user, _, host = value.partition("@")
    instance = normalise_instance(host) if host else None
    if not _USER.match(user) or instance is None:
        raise ValueError(f"not a Mastodon address: {raw.strip()!r} (user@instance)")
    return f"{user}@{instance}"


# --- The API -------------------------------------------------------------------------------------------

SCOPES = "read:accounts write:statuses"
CLIENT_NAME = "Porte-voix"


@dataclass(frozen=True)
class MastodonApp:
    """Our app as registered on one instance (Mastodon has no global app: each server has its own)."""

    instance: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class InstanceInfo:
    max_characters: int
    url_length: int


def _url(instance: str, path: str) -> str:
    return f"https://{instance}{path}"


def _request(endpoint: Endpoint, method: str, instance: str, path: str, **kwargs: Any) -> requests.Response:
    try:
        return endpoint.session("mastodon").request(method, _url(instance, path), **kwargs)
    except requests.RequestException as exc:
        raise transport_error(exc, instance) from exc


def _json(response: requests.Response, instance: str) -> Any:
    """The body as JSON; a server that answers something else is not a Mastodon server."""
    try:
        return response.json()
    except ValueError as exc:
        raise ChannelError(ErrorKind.NOT_SUPPORTED, f"{instance} does not answer as a Mastodon server") from exc


def _error(response: requests.Response, instance: str) -> ChannelError:
    if response.status_code == 429:
        return rate_limited(iso(response.headers.get("X-RateLimit-Reset")), f"{instance}'s rate limit")
    if response.status_code >= 500:
        return server_error(response.status_code, instance)
    try:
        body = response.json()
    except ValueError:
        body = {}
    reason = (
        str(body.get("error_description") or body.get("error") or response.reason) if isinstance(body, dict) else ""
    )
    if response.status_code == 401:
        return ChannelError(ErrorKind.AUTH_EXPIRED, reason or "the access token is invalid")
    if response.status_code == 404 and not body:
        return ChannelError(ErrorKind.NOT_SUPPORTED, f"{instance} does not answer as a Mastodon server")
    return ChannelError(ErrorKind.REJECTED, reason)


def _ok(response: requests.Response, instance: str) -> Any:
    if response.status_code >= 300:
        raise _error(response, instance)
    return _json(response, instance)


def server_info(endpoint: Endpoint, instance: str) -> InstanceInfo:
    """The instance's own length rule. Raises NOT_SUPPORTED when it is not a Mastodon server."""
    body = _ok(_request(endpoint, "GET", instance, "/api/v2/instance"), instance)
    statuses = (body.get("configuration") or {}).get("statuses") if isinstance(body, dict) else None
    if not isinstance(statuses, dict):
        raise ChannelError(ErrorKind.NOT_SUPPORTED, f"{instance} does not answer as a Mastodon server")
    return InstanceInfo(
        int(statuses.get("max_characters", DEFAULT_LIMIT)), int(statuses.get("characters_reserved_per_url", URL_LENGTH))
    )


def register_app(endpoint: Endpoint, instance: str, *, redirect_uri: str, website: str = "") -> MastodonApp:
    data = {"client_name": CLIENT_NAME, "redirect_uris": redirect_uri, "scopes": SCOPES}
    if website:
        data["website"] = website
    body = _ok(_request(endpoint, "POST", instance, "/api/v1/apps", data=data), instance)
    if not isinstance(body, dict) or "client_id" not in body:
        raise ChannelError(ErrorKind.NOT_SUPPORTED, f"{instance} does not answer as a Mastodon server")
    return MastodonApp(instance, str(body["client_id"]), str(body["client_secret"]))


def app_is_known(endpoint: Endpoint, app: MastodonApp) -> bool:
    """Whether the instance still knows our app (instances before 4.3 vacuum unused ones)."""
    response = _request(
        endpoint,
        "POST",
        app.instance,
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": app.client_secret},
    )
    if response.status_code == 401:
        return False
    _ok(response, app.instance)
    return True


def authorize_url(endpoint: Endpoint, app: MastodonApp, *, redirect_uri: str, state: str, challenge: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return endpoint.url("mastodon", _url(app.instance, f"/oauth/authorize?{query}"))


def exchange_code(endpoint: Endpoint, app: MastodonApp, *, redirect_uri: str, code: str, verifier: str) -> str:
    """The access token (Mastodon's do not expire). `invalid_client` is AUTH_FAILED with that reason."""
    response = _request(
        endpoint,
        "POST",
        app.instance,
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "scope": SCOPES,
        },
    )
    if response.status_code in (400, 401):
        body = _json(response, app.instance)
        raise ChannelError(ErrorKind.AUTH_FAILED, str(body.get("error", "invalid_grant")))
    return str(_ok(response, app.instance)["access_token"])


def revoke(endpoint: Endpoint, app: MastodonApp, token: str) -> None:
    response = _request(
        endpoint,
        "POST",
        app.instance,
        "/oauth/revoke",
        data={"client_id": app.client_id, "client_secret": app.client_secret, "token": token},
    )
    if response.status_code >= 500:
        raise server_error(response.status_code, app.instance)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def profile(endpoint: Endpoint, instance: str, token: str) -> Profile:
    body = _ok(
        _request(endpoint, "GET", instance, "/api/v1/accounts/verify_credentials", headers=_auth(token)), instance
    )
    return Profile(
        str(body["id"]), f"{body['username']}@{instance}", body.get("display_name", ""), body.get("followers_count")
    )


def post(endpoint: Endpoint, instance: str, token: str, text: str, *, idempotency_key: str) -> PostResult:
    """Post publicly. A repeat with the same key within the hour returns the first post: retries are safe."""
    response = _request(
        endpoint,
        "POST",
        instance,
        "/api/v1/statuses",
        data={"status": text, "visibility": "public"},
        headers={**_auth(token), "Idempotency-Key": idempotency_key},
    )
    body = _ok(response, instance)
    url = str(body.get("url") or body.get("uri"))
    return PostResult(
        str(body["id"]), endpoint.url("mastodon", url), rate_state(response.headers, "X-RateLimit", "iso")
    )


def metrics(endpoint: Endpoint, instance: str, token: str, ids: list[str]) -> list[PostMetrics]:
    found = []
    for remote_id in ids:
        response = _request(endpoint, "GET", instance, f"/api/v1/statuses/{remote_id}", headers=_auth(token))
        if response.status_code == 404:
            continue
        body = _ok(response, instance)
        found.append(
            PostMetrics(
                remote_id,
                body.get("favourites_count", 0),
                body.get("reblogs_count", 0),
                body.get("replies_count", 0),
                body.get("quotes_count", 0),
            )
        )
    return found


def replies(endpoint: Endpoint, instance: str, token: str, status_id: str) -> list[Reply]:
    """The direct replies to one of our statuses, as our supporter's instance sees them."""
    response = _request(endpoint, "GET", instance, f"/api/v1/statuses/{status_id}/context", headers=_auth(token))
    body = _ok(response, instance)
    found = []
    for status in body.get("descendants") or []:
        if str(status.get("in_reply_to_id", "")) != str(status_id):
            continue
        acct = str((status.get("account") or {}).get("acct", ""))
        created = status.get("created_at")
        found.append(
            Reply(
                str(status.get("url") or status.get("id")),
                acct if "@" in acct else f"{acct}@{instance}",
                plain_text(str(status.get("content", ""))),
                str(status.get("url", "")),
                datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            )
        )
    return found


_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def plain_text(content: str) -> str:
    """A status's HTML as the text its author typed (links whole, paragraphs as line breaks)."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content))).strip()


def recent_posts(endpoint: Endpoint, address: str, *, limit: int = 40) -> list[PublicPost]:
    """The newest public posts of `user@instance`, read from their instance without a token."""
    user, _, instance = address.partition("@")
    account = _ok(_request(endpoint, "GET", instance, "/api/v1/accounts/lookup", params={"acct": user}), instance)
    statuses = _ok(
        _request(
            endpoint,
            "GET",
            instance,
            f"/api/v1/accounts/{account['id']}/statuses",
            params={"limit": limit, "exclude_reblogs": "true"},
        ),
        instance,
    )
    return [
        PublicPost(
            str(s["id"]),
            endpoint.url("mastodon", str(s.get("url") or s.get("uri"))),
            plain_text(s.get("content", "")),
            iso(s.get("created_at")),
        )
        for s in statuses
    ]
