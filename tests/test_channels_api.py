"""The real clients (tweepy, requests) against the sandbox networks: each case a supporter could meet."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from channels import bluesky, mastodon, x
from channels.api import pkce_pair
from channels.errors import ChannelError, ErrorKind
from channels.http import Endpoint
from sandbox.server import SandboxServer
from tests.conftest import LATE_TIMEOUT, UNHURRIED_TIMEOUT

CALLBACK = "http://127.0.0.1:9/callback"
APP = x.XApp("porte-voix-test", None, CALLBACK)


@pytest.fixture
def ep(clean_sandbox: SandboxServer) -> Endpoint:
    return Endpoint(clean_sandbox.url, timeout=UNHURRIED_TIMEOUT)


def _impatient(ep: Endpoint) -> Endpoint:
    """The same sandbox, reached by a client that gives up before the sandbox's late answers come."""
    return replace(ep, timeout=LATE_TIMEOUT)


def _approve(url: str, username: str) -> dict[str, str]:
    """What the supporter does on the network's consent page; returns the query of the redirect back to us."""
    response = requests.post(url, data={"username": username, "decision": "allow"}, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def _x_tokens(ep: Endpoint, username: str = "Camille") -> x.Tokens:
    verifier, challenge = pkce_pair()
    back = _approve(x.authorize_url(ep, APP, state="s1", challenge=challenge), username)
    assert back["state"] == "s1"
    return x.exchange_code(ep, APP, code=back["code"], verifier=verifier)


def _error(call: Any) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        call()
    return caught.value


# --- X ------------------------------------------------------------------------------------------------


def test_x_oauth_pkce_flow_and_profile(ep: Endpoint) -> None:
    tokens = _x_tokens(ep)
    assert set(tokens.scope.split()) == {"tweet.read", "tweet.write", "users.read", "offline.access"}
    assert tokens.refresh and tokens.expires_at and tokens.expires_at > datetime.now(UTC)
    profile = x.profile(ep, tokens.access)
    assert profile.handle == "Camille" and profile.followers and profile.followers > 0


def test_x_code_needs_its_verifier_and_dies_after_thirty_seconds(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    back = _approve(x.authorize_url(ep, APP, state="s", challenge=challenge), "Camille")
    assert (
        _error(lambda: x.exchange_code(ep, APP, code=back["code"], verifier="wrong" * 10)).kind is ErrorKind.AUTH_FAILED
    )
    verifier, challenge = pkce_pair()
    back = _approve(x.authorize_url(ep, APP, state="s", challenge=challenge), "Camille")
    clean_sandbox.state.clock.advance(31)
    error = _error(lambda: x.exchange_code(ep, APP, code=back["code"], verifier=verifier))
    assert error.kind is ErrorKind.AUTH_FAILED and "authorization code was invalid" in error.reason


def test_x_refresh_rotates_and_the_old_refresh_token_is_spent(ep: Endpoint) -> None:
    first = _x_tokens(ep)
    second = x.refresh(ep, APP, first.refresh or "")
    assert second.refresh != first.refresh and second.access != first.access
    assert _error(lambda: x.refresh(ep, APP, first.refresh or "")).kind is ErrorKind.AUTH_EXPIRED
    assert _error(lambda: x.post(ep, first.access, "old token", handle="Camille")).kind is ErrorKind.AUTH_EXPIRED
    assert x.post(ep, second.access, "new token", handle="Camille").remote_id


def test_x_rate_limit_then_success_after_the_reset(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    clean_sandbox.state.knobs.x_posts_per_window = 2
    tokens = _x_tokens(ep)
    first = x.post(ep, tokens.access, "un", handle="Camille")
    assert first.rate and first.rate.remaining == 1 and first.rate.limit == 2
    x.post(ep, tokens.access, "deux", handle="Camille")
    limited = _error(lambda: x.post(ep, tokens.access, "trois", handle="Camille"))
    assert limited.kind is ErrorKind.RATE_LIMITED and limited.retryable
    assert limited.retry_at is not None and first.rate.reset_at is not None
    assert abs((limited.retry_at - first.rate.reset_at).total_seconds()) <= 1  # the epoch header, read as such
    clean_sandbox.state.clock.advance(901)
    assert x.post(ep, tokens.access, "trois", handle="Camille").remote_id


def test_x_429_without_reset_headers_gives_no_retry_time(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    tokens = _x_tokens(ep)
    clean_sandbox.state.knobs.burst_429, clean_sandbox.state.knobs.omit_reset_headers = 1, True
    error = _error(lambda: x.post(ep, tokens.access, "texte", handle="Camille"))
    assert error.kind is ErrorKind.RATE_LIMITED and error.retry_at is None


def test_x_refusals_carry_the_networks_reason(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    tokens = _x_tokens(ep)
    x.post(ep, tokens.access, "Même texte", handle="Camille")
    duplicate = _error(lambda: x.post(ep, tokens.access, "Même texte", handle="Camille"))
    assert duplicate.kind is ErrorKind.DUPLICATE and "duplicate content" in duplicate.reason
    too_long = _error(lambda: x.post(ep, tokens.access, "é" * 281, handle="Camille"))
    assert too_long.kind is ErrorKind.REJECTED and "too long" in too_long.reason
    clean_sandbox.state.knobs.x_credits_depleted = True
    assert "credits depleted" in _error(lambda: x.post(ep, tokens.access, "x", handle="Camille")).reason


def test_x_server_errors_and_timeouts_are_retryable(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    tokens = _x_tokens(ep)
    clean_sandbox.state.knobs.error_rate = 1.0
    assert _error(lambda: x.post(ep, tokens.access, "a", handle="Camille")).kind is ErrorKind.UNAVAILABLE
    clean_sandbox.state.knobs.error_rate, clean_sandbox.state.knobs.timeout_rate = 0.0, 1.0
    error = _error(lambda: x.post(_impatient(ep), tokens.access, "b", handle="Camille"))
    assert error.kind is ErrorKind.UNAVAILABLE and error.retryable and "in time" in error.reason
    assert [p.text for p in clean_sandbox.state.posts("x")] == ["b"]  # stored all the same: the worst case


def test_x_metrics_leave_out_posts_that_are_gone(ep: Endpoint) -> None:
    tokens = _x_tokens(ep)
    posted = x.post(ep, tokens.access, "mesure", handle="Camille")
    found = x.metrics(ep, tokens.access, [posted.remote_id, "1"])
    assert [m.remote_id for m in found] == [posted.remote_id]


def test_x_revoke_ends_the_token(ep: Endpoint) -> None:
    tokens = _x_tokens(ep)
    x.revoke(ep, APP, tokens.access)
    assert _error(lambda: x.profile(ep, tokens.access)).kind is ErrorKind.AUTH_EXPIRED


# --- Mastodon -----------------------------------------------------------------------------------------


def _mastodon(
    ep: Endpoint, instance: str = "piaille.example", user: str = "camille"
) -> tuple[mastodon.MastodonApp, str]:
    app = mastodon.register_app(ep, instance, redirect_uri=CALLBACK)
    verifier, challenge = pkce_pair()
    back = _approve(mastodon.authorize_url(ep, app, redirect_uri=CALLBACK, state="m", challenge=challenge), user)
    return app, mastodon.exchange_code(ep, app, redirect_uri=CALLBACK, code=back["code"], verifier=verifier)


def test_mastodon_app_per_instance_oauth_and_the_instances_own_limit(
    ep: Endpoint, clean_sandbox: SandboxServer
) -> None:
    clean_sandbox.state.knobs.mastodon_max_characters = 1000
    app, token = _mastodon(ep)
    assert mastodon.app_is_known(ep, app)
    assert mastodon.server_info(ep, "piaille.example").max_characters == 1000
    assert mastodon.profile(ep, "piaille.example", token).handle == "camille@piaille.example"
    clean_sandbox.state.reset()  # the instance forgets our app, as pre-4.3 instances vacuum unused ones
    assert not mastodon.app_is_known(ep, app)


def test_mastodon_retry_with_the_same_key_returns_the_first_post(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    _app, token = _mastodon(ep)
    clean_sandbox.state.knobs.timeout_rate = 1.0
    error = _error(
        lambda: mastodon.post(_impatient(ep), "piaille.example", token, "Bonjour @a@b.example", idempotency_key="k")
    )
    assert error.kind is ErrorKind.UNAVAILABLE
    clean_sandbox.state.knobs.timeout_rate = 0.0
    again = mastodon.post(ep, "piaille.example", token, "Bonjour @a@b.example", idempotency_key="k")
    assert [p.remote_id for p in clean_sandbox.state.posts("mastodon")] == [again.remote_id]
    clean_sandbox.state.clock.advance(3601)  # keys are kept for an hour
    assert (
        mastodon.post(ep, "piaille.example", token, "Bonjour @a@b.example", idempotency_key="k").remote_id
        != again.remote_id
    )


def test_mastodon_rate_limit_reset_is_read_as_iso_8601(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    clean_sandbox.state.knobs.mastodon_statuses_per_window = 1
    _app, token = _mastodon(ep)
    first = mastodon.post(ep, "piaille.example", token, "un", idempotency_key="1")
    error = _error(lambda: mastodon.post(ep, "piaille.example", token, "deux", idempotency_key="2"))
    assert error.kind is ErrorKind.RATE_LIMITED and error.retry_at is not None
    assert first.rate and first.rate.reset_at and abs((error.retry_at - first.rate.reset_at).total_seconds()) < 1
    assert 10_700 < (error.retry_at - datetime.now(UTC)).total_seconds() <= 10_800  # 300 statuses per 3 hours


def test_mastodon_counts_length_like_upstream(ep: Endpoint) -> None:
    _app, token = _mastodon(ep)
    fits = "@depute@tres-long-nom-de-serveur.example " + "https://example.org/" + "a" * 200 + " " + "é" * 430
    assert mastodon.post(ep, "piaille.example", token, fits, idempotency_key="fits").remote_id
    error = _error(lambda: mastodon.post(ep, "piaille.example", token, "é" * 501, idempotency_key="long"))
    assert (
        error.kind is ErrorKind.REJECTED and error.reason == "Validation failed: Text character limit of 500 exceeded"
    )


@pytest.mark.parametrize(
    ("knob", "kind"), [("not_mastodon_hosts", ErrorKind.NOT_SUPPORTED), ("down_hosts", ErrorKind.UNAVAILABLE)]
)
def test_a_server_that_is_not_mastodon_or_does_not_answer(
    ep: Endpoint, clean_sandbox: SandboxServer, knob: str, kind: ErrorKind
) -> None:
    setattr(clean_sandbox.state.knobs, knob, ["nowhere.example"])
    assert _error(lambda: mastodon.server_info(_impatient(ep), "nowhere.example")).kind is kind


def test_mastodon_public_timeline_and_revocation(ep: Endpoint) -> None:
    app, token = _mastodon(ep)
    mastodon.post(ep, "piaille.example", token, "Première ligne\nhttps://example.org/x & co", idempotency_key="t")
    [found] = mastodon.recent_posts(ep, "camille@piaille.example")
    assert found.text == "Première ligne\nhttps://example.org/x & co"
    mastodon.revoke(ep, app, token)
    assert _error(lambda: mastodon.profile(ep, "piaille.example", token)).kind is ErrorKind.AUTH_EXPIRED


# --- Bluesky ------------------------------------------------------------------------------------------


def test_bluesky_wrong_app_password(ep: Endpoint) -> None:
    bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    error = _error(lambda: bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-zzzz"))
    assert error.kind is ErrorKind.AUTH_FAILED and error.reason == "Invalid identifier or password"


def test_bluesky_facets_count_utf8_bytes_after_accents_and_emoji(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    bluesky.create_session(ep, "bob.test", "aaaa-bbbb-cccc-dddd")
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    text = "Écrivez à @bob.test 👨‍👩‍👧 le site https://example.org/x. #LivreBlanc !"
    posted = bluesky.post(ep, session, text, rkey=bluesky.new_record_key(), language="fr")
    [record] = clean_sandbox.state.table("bluesky", "records").values()
    raw = text.encode("utf-8")
    spans = [(f["index"]["byteStart"], f["index"]["byteEnd"], f["features"][0]) for f in record["value"]["facets"]]
    assert spans[0][:2] == (12, 21)  # "É" and "à" are two bytes each
    assert [raw[a:b].decode() for a, b, _ in spans] == ["@bob.test", "https://example.org/x", "#LivreBlanc"]
    assert spans[0][2]["did"].startswith("did:plc:") and spans[2][2]["tag"] == "LivreBlanc"
    assert record["value"]["langs"] == ["fr"] and posted.url.endswith("/post/" + posted.remote_id)


def test_bluesky_mention_of_a_handle_nobody_has_is_refused(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    error = _error(lambda: bluesky.post(ep, session, "Bonjour @personne.bsky.social", rkey=bluesky.new_record_key()))
    assert error.kind is ErrorKind.REJECTED and "@personne.bsky.social" in error.reason
    assert clean_sandbox.state.posts() == []


def test_bluesky_expired_access_token_then_refresh(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    clean_sandbox.state.clock.advance(7201)
    error = _error(lambda: bluesky.post(ep, session, "tard", rkey=bluesky.new_record_key()))
    assert error.kind is ErrorKind.AUTH_EXPIRED and error.reason == "Token has expired"  # a 400, not a 401
    fresh = bluesky.refresh_session(ep, session)
    assert fresh.refresh_jwt != session.refresh_jwt
    assert _error(lambda: bluesky.refresh_session(ep, session)).kind is ErrorKind.AUTH_EXPIRED  # rotated
    assert bluesky.post(ep, fresh, "à l'heure", rkey=bluesky.new_record_key()).remote_id


def test_bluesky_record_key_makes_a_retry_detectable(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    rkey = bluesky.new_record_key()
    assert bluesky.find_record(ep, session, rkey) is None
    bluesky.post(ep, session, "une fois", rkey=rkey)
    assert bluesky.find_record(ep, session, rkey) == f"at://{session.did}/app.bsky.feed.post/{rkey}"
    assert _error(lambda: bluesky.post(ep, session, "une fois", rkey=rkey)).kind is ErrorKind.UNAVAILABLE
    assert len(clean_sandbox.state.posts("bluesky")) == 1


def test_bluesky_rate_limit_headers_are_epoch_seconds(ep: Endpoint, clean_sandbox: SandboxServer) -> None:
    clean_sandbox.state.knobs.bluesky_points_per_hour = 6  # two posts at 3 points
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    bluesky.post(ep, session, "un", rkey=bluesky.new_record_key())
    second = bluesky.post(ep, session, "deux", rkey=bluesky.new_record_key())
    assert second.rate and second.rate.remaining == 0
    error = _error(lambda: bluesky.post(ep, session, "trois", rkey=bluesky.new_record_key()))
    assert error.kind is ErrorKind.RATE_LIMITED and error.retry_at is not None
    assert 3590 < (error.retry_at - datetime.now(UTC)).total_seconds() <= 3600


def test_bluesky_tokens_are_jwts_whose_expiry_we_read(ep: Endpoint) -> None:
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    assert session.expires_at is not None
    assert 7100 < (session.expires_at - datetime.now(UTC)).total_seconds() <= 7200
    claims = json.loads(base64.urlsafe_b64decode(session.access_jwt.split(".")[1] + "=="))
    assert claims["scope"] == "com.atproto.appPass" and claims["sub"] == session.did


def test_bluesky_public_reads(ep: Endpoint) -> None:
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    posted = bluesky.post(ep, session, "lisible de tous", rkey=bluesky.new_record_key())
    [found] = bluesky.recent_posts(ep, "camille.bsky.social")
    assert (found.text, found.url) == ("lisible de tous", posted.url)
    [counts] = bluesky.metrics(ep, [f"at://{session.did}/app.bsky.feed.post/{posted.remote_id}"])
    assert counts.likes == 0
    assert bluesky.profile(ep, session).followers


def test_every_call_has_a_timeout(clean_sandbox: SandboxServer) -> None:
    """A network that never answers costs the timeout, not a hung worker."""
    clean_sandbox.state.knobs.latency_ms = 1500
    error = _error(lambda: mastodon.server_info(Endpoint(clean_sandbox.url, timeout=0.3), "piaille.example"))
    assert error.kind is ErrorKind.UNAVAILABLE and error.reason == "piaille.example did not answer in time"
