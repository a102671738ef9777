"""Bluesky: 300 grapheme clusters and 3000 UTF-8 bytes (links count in full); the compose intent; the API.

The API is plain requests over XRPC: an app-password session (kept, refreshed; the password never is),
posts with facets in UTF-8 byte offsets and a record key of ours, so that a retry can tell it posted.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import regex
import requests

from channels import LengthCheck, Network, unwrap_handle
from channels.api import PostMetrics, PostResult, Profile, PublicPost, Reply
from channels.errors import ChannelError, ErrorKind, epoch, rate_limited, rate_state, server_error, transport_error
from channels.http import Endpoint

GRAPHEME_LIMIT = 300
BYTE_LIMIT = 3000
INTENT_URL = "https://bsky.app/intent/compose"


def grapheme_count(text: str) -> int:
    return len(regex.findall(r"\X", text))


def check_length(text: str) -> LengthCheck:
    graphemes = grapheme_count(text)
    size = len(text.encode("utf-8"))
    if size > BYTE_LIMIT:
        # The byte rule binds before the grapheme one only for very dense scripts; report it as such.
        return LengthCheck(Network.BLUESKY, size, BYTE_LIMIT, unit="bytes", detail="UTF-8 bytes")
    return LengthCheck(Network.BLUESKY, graphemes, GRAPHEME_LIMIT, detail="graphemes; links count in full")


def compose_url(text: str) -> str:
    return f"{INTENT_URL}?text={quote(text, safe='')}"


_HANDLE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_PROFILE_URL = re.compile(r"^(?:https?://)?bsky\.app/profile/([^/?#]+)", re.IGNORECASE)


def normalise_handle(raw: str) -> str:
    """`@name.bsky.social`, a custom domain, or a bsky.app profile URL → `name.bsky.social`."""
    value = unwrap_handle(raw, _PROFILE_URL).lower()
    if not _HANDLE.match(value):
        raise ValueError(f"not a Bluesky handle: {raw.strip()!r} (a domain such as name.bsky.social)")
    return value


# --- The API -------------------------------------------------------------------------------------------

ENTRYWAY = "https://bsky.social"  # where app-password sessions are created
APPVIEW = "https://public.api.bsky.app"  # public reads: timelines, profiles, post counts
POST = "app.bsky.feed.post"
_APP_PASSWORD = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")


@dataclass(frozen=True)
class Session:
    """An app-password session. The tokens rotate on refresh; the password is never kept."""

    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str
    service: str = ENTRYWAY  # the account's PDS

    @property
    def expires_at(self) -> datetime | None:
        return jwt_expiry(self.access_jwt)

    def as_dict(self) -> dict[str, str]:
        return {
            "did": self.did,
            "handle": self.handle,
            "access_jwt": self.access_jwt,
            "refresh_jwt": self.refresh_jwt,
            "service": self.service,
        }


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` of a JWT, read without checking its signature (only the PDS can; we only plan refreshes)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def looks_like_app_password(value: str) -> bool:
    return bool(_APP_PASSWORD.match(value.strip().lower()))


def _xrpc(
    endpoint: Endpoint, method: str, base: str, nsid: str, token: str | None = None, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return endpoint.session("bluesky").request(method, f"{base}/xrpc/{nsid}", headers=headers, **kwargs)
    except requests.RequestException as exc:
        raise transport_error(exc, "Bluesky") from exc


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: requests.Response) -> ChannelError:
    body = _body(response)
    code, message = str(body.get("error", "")), str(body.get("message", ""))
    if response.status_code == 429:
        return rate_limited(epoch(response.headers.get("RateLimit-Reset")), "Bluesky's rate limit")
    if response.status_code >= 500:
        return server_error(response.status_code, "Bluesky")
    if code in ("ExpiredToken", "InvalidToken", "AuthMissing") or response.status_code == 401:
        return ChannelError(ErrorKind.AUTH_EXPIRED, message or code)
    return ChannelError(ErrorKind.REJECTED, message or code or response.reason)


def _ok(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise _error(response)
    return _body(response)


def _service(body: dict[str, Any], fallback: str) -> str:
    """The PDS named in the session's DID document, or where the session was made."""
    for service in (body.get("didDoc") or {}).get("service", []):
        if service.get("type") == "AtprotoPersonalDataServer" and service.get("serviceEndpoint"):
            return str(service["serviceEndpoint"]).rstrip("/")
    return fallback


def create_session(endpoint: Endpoint, identifier: str, app_password: str) -> Session:
    """Sign in with an app password. Raises AUTH_FAILED with the network's words when it is refused."""
    response = _xrpc(
        endpoint,
        "POST",
        ENTRYWAY,
        "com.atproto.server.createSession",
        json={"identifier": identifier.strip().lstrip("@"), "password": app_password.strip()},
    )
    if response.status_code in (400, 401):
        body = _body(response)
        raise ChannelError(ErrorKind.AUTH_FAILED, str(body.get("message") or body.get("error") or "refused"))
    body = _ok(response)
    return Session(body["did"], body["handle"], body["accessJwt"], body["refreshJwt"], _service(body, ENTRYWAY))


def refresh_session(endpoint: Endpoint, session: Session) -> Session:
    """New tokens (both rotate). Raises AUTH_EXPIRED when the refresh token was revoked or expired."""
    body = _ok(_xrpc(endpoint, "POST", session.service, "com.atproto.server.refreshSession", session.refresh_jwt))
    return replace(
        session, handle=body.get("handle", session.handle), access_jwt=body["accessJwt"], refresh_jwt=body["refreshJwt"]
    )


def delete_session(endpoint: Endpoint, session: Session) -> None:
    """Revoke the session at the PDS (the app password itself is the supporter's to delete)."""
    response = _xrpc(endpoint, "POST", session.service, "com.atproto.server.deleteSession", session.refresh_jwt)
    if response.status_code >= 500:
        raise server_error(response.status_code, "Bluesky")


_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_record_key(now: datetime | None = None, *, serial: int | None = None) -> str:
    """A TID: microseconds since the epoch and a clock id, 13 sortable base32 characters.

    The clock id is random, unless `serial` (a row id) is given: then many keys made at one instant (a
    batch of pledges released together) differ by construction, not by luck.
    """
    micros = int((now or datetime.now(UTC)).timestamp() * 1_000_000)
    if serial is None:
        value = (micros << 10) | secrets.randbelow(1024)
    else:
        value = ((micros + serial // 1024) << 10) | (serial % 1024)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_MENTION = regex.compile(
    r"(?:^|[\s(])(@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?))"
)
_LINK = regex.compile(r"(?:^|[\s(])(https?://[^\s<>\"]+)")
_TAG_RE = regex.compile(
    r"(?:^|\s)([#＃]((?!\ufe0f)[^\s\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2]*[^\d\s\p{P}\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2]+[^\s\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2]*))"
)
_TRAILING = ".,;:!?)"


def _byte_range(text: str, start: int, end: int) -> dict[str, int]:
    """Character positions → UTF-8 byte offsets, which is what facets index (accents are 2 bytes, emoji 4)."""
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def resolve_handle(endpoint: Endpoint, handle: str) -> str | None:
    """The DID behind a handle, or None when no account has it."""
    response = _xrpc(endpoint, "GET", APPVIEW, "com.atproto.identity.resolveHandle", params={"handle": handle})
    if response.status_code == 400:
        return None
    did = _ok(response).get("did")
    return str(did) if did else None


def facets(endpoint: Endpoint, text: str) -> list[dict[str, Any]]:
    """Mentions (resolved to DIDs), links and hashtags as facets. Raises REJECTED for a handle nobody has:
    the post would name someone who would never be notified."""
    found: list[dict[str, Any]] = []
    for match in _MENTION.finditer(text):
        handle = match.group(2).lower()
        did = resolve_handle(endpoint, handle)
        if did is None:
            raise ChannelError(ErrorKind.REJECTED, f"no Bluesky account is called @{handle}")
        found.append(
            {
                "index": _byte_range(text, match.start(1), match.end(1)),
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            }
        )
    for match in _LINK.finditer(text):
        uri = match.group(1).rstrip(_TRAILING)
        start = match.start(1)
        found.append(
            {
                "index": _byte_range(text, start, start + len(uri)),
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
        )
    for match in _TAG_RE.finditer(text):
        tag = match.group(2).rstrip(_TRAILING)
        start = match.start(1)
        if len(tag) > 64:
            continue
        found.append(
            {
                "index": _byte_range(text, start, start + 1 + len(tag)),
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
    return sorted(found, key=lambda facet: facet["index"]["byteStart"])


def post_url(endpoint: Endpoint, handle: str, rkey: str) -> str:
    """Where a post is seen (in the sandbox when the endpoint is one)."""
    return endpoint.url("bluesky", f"https://bsky.app/profile/{handle}/post/{rkey}")


def find_record(endpoint: Endpoint, session: Session, rkey: str) -> str | None:
    """The URI of our post with this record key, if the PDS holds it (a retry checks before posting again)."""
    response = _xrpc(
        endpoint,
        "GET",
        session.service,
        "com.atproto.repo.getRecord",
        params={"repo": session.did, "collection": POST, "rkey": rkey},
    )
    if response.status_code == 400 and _body(response).get("error") == "RecordNotFound":
        return None
    uri = _ok(response).get("uri")
    return str(uri) if uri else None


def post(
    endpoint: Endpoint, session: Session, text: str, *, rkey: str, language: str = "", now: datetime | None = None
) -> PostResult:
    """Post `text` under record key `rkey`. A second call with the same key cannot make a second post."""
    record: dict[str, Any] = {
        "$type": POST,
        "text": text,
        "createdAt": (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if language:
        record["langs"] = [language]
    record_facets = facets(endpoint, text)
    if record_facets:
        record["facets"] = record_facets
    response = _xrpc(
        endpoint,
        "POST",
        session.service,
        "com.atproto.repo.createRecord",
        session.access_jwt,
        json={"repo": session.did, "collection": POST, "rkey": rkey, "record": record},
    )
    _ok(response)
    return PostResult(rkey, post_url(endpoint, session.handle, rkey), rate_state(response.headers, "RateLimit"))


def profile(endpoint: Endpoint, session: Session) -> Profile:
    body = _ok(
        _xrpc(
            endpoint,
            "GET",
            session.service,
            "app.bsky.actor.getProfile",
            session.access_jwt,
            params={"actor": session.did},
        )
    )
    return Profile(
        session.did, body.get("handle", session.handle), body.get("displayName", ""), body.get("followersCount")
    )


def metrics(endpoint: Endpoint, uris: list[str]) -> list[PostMetrics]:
    """Counts of up to 25 posts, by their at:// URIs, from the public AppView."""
    if len(uris) > 25:
        raise ValueError("Bluesky reads at most 25 posts at a time")
    if not uris:
        return []
    body = _ok(_xrpc(endpoint, "GET", APPVIEW, "app.bsky.feed.getPosts", params={"uris": uris}))
    return [
        PostMetrics(
            p["uri"], p.get("likeCount", 0), p.get("repostCount", 0), p.get("replyCount", 0), p.get("quoteCount", 0)
        )
        for p in body.get("posts", [])
    ]


def recent_posts(endpoint: Endpoint, handle: str, *, limit: int = 30) -> list[PublicPost]:
    """The newest posts of `handle`, read from the public AppView without a session."""
    body = _ok(
        _xrpc(
            endpoint,
            "GET",
            APPVIEW,
            "app.bsky.feed.getAuthorFeed",
            params={"actor": handle, "limit": limit, "filter": "posts_no_replies"},
        )
    )
    posts = []
    for item in body.get("feed", []):
        post_view = item.get("post") or {}
        rkey = str(post_view.get("uri", "")).rsplit("/", 1)[-1]
        record = post_view.get("record") or {}
        created = record.get("createdAt")
        posts.append(
            PublicPost(
                str(post_view.get("uri")),
                post_url(endpoint, handle, rkey),
                record.get("text", ""),
                datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            )
        )
    return posts


def at_uri(did: str, remote_id: str) -> str:
    """The at:// URI of one of our posts (we keep its record key)."""
    return remote_id if remote_id.startswith("at://") else f"at://{did}/{POST}/{remote_id}"


def replies(endpoint: Endpoint, uri: str) -> list[Reply]:
    """The direct replies to a post, read from the public AppView (no session needed)."""
    body = _ok(_xrpc(endpoint, "GET", APPVIEW, "app.bsky.feed.getPostThread", params={"uri": uri, "depth": 1}))
    found = []
    for item in (body.get("thread") or {}).get("replies") or []:
        post_view = item.get("post") or {}
        author = str((post_view.get("author") or {}).get("handle", ""))
        record = post_view.get("record") or {}
        rkey = str(post_view.get("uri", "")).rsplit("/", 1)[-1]
        created = record.get("createdAt")
        found.append(
            Reply(
                str(post_view.get("uri", "")),
                author,
                str(record.get("text", "")),
                post_url(endpoint, author, rkey) if author and rkey else "",
                datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            )
        )
    return found
