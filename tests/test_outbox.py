"""The delivery outbox with connected accounts, on SQLite and PostgreSQL, against the sandbox networks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select, text

from campaign.views_posting import describe
from channels import Network, x
from channels.errors import ErrorKind
from database import utcnow
from extensions import db
from sandbox.server import SandboxServer
from scheduler import outbox
from scheduler.dispatch import ThreadDispatcher
from scheduler.models import Delivery, DeliveryState
from scheduler.outcomes import MAX_ATTEMPTS
from supporters import posting, services
from supporters.models import AccountState, Consent, ConsentKind, SocialAccount
from supporters.networks import endpoint, x_app
from supporters.rehearsal import connect_sandbox_account
from tests.conftest import answers_late, eventually


def _queue(app: Flask, account_id: int, text_: str) -> int:
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        delivery = posting.queue_post(account, text_, language="fr")
        db.session.commit()
        return delivery.id


def _process(app: Flask, delivery_id: int, now: datetime | None = None) -> DeliveryState | None:
    with app.app_context():
        state = outbox.process(delivery_id, app.extensions["porte_voix_outbox"], now=now)
        db.session.remove()
        return state


def _delivery(app: Flask, delivery_id: int) -> Delivery:
    with app.app_context():
        delivery = db.session.get(Delivery, delivery_id)
        assert delivery is not None
        db.session.expunge(delivery)
        return delivery


NETWORKS = [Network.X, Network.MASTODON, Network.BLUESKY]


@pytest.mark.parametrize("network", NETWORKS)
def test_a_click_posts_once_with_its_link_and_its_consent(
    app: Flask, sandbox: SandboxServer, connect: Any, network: Network
) -> None:
    account_id = connect(network)
    assert sandbox.state.posts() == []  # connecting posts nothing
    delivery_id = _queue(app, account_id, "Madame la Députée, lisez https://example.org/livre-blanc #ESS")
    assert _process(app, delivery_id) is DeliveryState.POSTED
    assert _process(app, delivery_id) is None  # a second worker finds nothing to take
    delivery = _delivery(app, delivery_id)
    [posted] = sandbox.state.posts(network.value)
    assert posted.text == delivery.text and delivery.remote_url.startswith(sandbox.url)
    assert requests.get(delivery.remote_url, timeout=5).status_code == 200
    with app.app_context():
        consent = db.session.scalars(select(Consent).where(Consent.kind == ConsentKind.POST)).one()
        assert consent.text == delivery.text and consent.network is network
        account = db.session.get(SocialAccount, account_id)
        assert account is not None and account.rate_remaining is not None


def test_rate_limited_waits_for_the_reset_then_posts(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    sandbox.state.knobs.x_posts_per_window = 1
    account_id = connect(Network.X)
    assert _process(app, _queue(app, account_id, "premier")) is DeliveryState.POSTED
    second = _queue(app, account_id, "second")
    now = utcnow()
    assert _process(app, second, now) is DeliveryState.QUEUED
    delivery = _delivery(app, second)
    assert delivery.error_kind == "rate_limited"
    assert delivery.next_attempt_at > now + timedelta(seconds=890)  # never before the network's reset
    assert _process(app, second, now + timedelta(seconds=60)) is None  # not due: nobody may take it
    third = _queue(app, account_id, "troisième")  # the account's spent budget is known: no call at all
    calls = sandbox.state.calls["POST /x/2/tweets"]
    assert _process(app, third, now + timedelta(seconds=1)) is DeliveryState.QUEUED
    assert sandbox.state.calls["POST /x/2/tweets"] == calls
    sandbox.state.clock.advance(930)
    assert _process(app, second, delivery.next_attempt_at) is DeliveryState.POSTED
    assert [p.text for p in sandbox.state.posts()] == ["premier", "second"]


def test_a_429_without_reset_headers_backs_off_never_tight(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    account_id = connect(Network.BLUESKY)
    sandbox.state.knobs.burst_429, sandbox.state.knobs.omit_reset_headers = 1, True
    delivery_id = _queue(app, account_id, "texte")
    now = utcnow()
    assert _process(app, delivery_id, now) is DeliveryState.QUEUED
    assert _delivery(app, delivery_id).next_attempt_at >= now + timedelta(seconds=22)  # 30 s, less the jitter


def _tries(app: Flask, delivery_id: int, count: int) -> tuple[Delivery, list[float]]:
    """Run `count` tries of a row, each when it falls due; the row after them, and the waits between them."""
    now, waits = max(utcnow(), _delivery(app, delivery_id).next_attempt_at), []
    for _ in range(count):
        _process(app, delivery_id, now)
        delivery = _delivery(app, delivery_id)
        waits.append((delivery.next_attempt_at - now).total_seconds())
        now = delivery.next_attempt_at
    return delivery, waits


def test_server_errors_back_off_then_fail_with_the_reason(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    account_id = connect(Network.MASTODON)
    sandbox.state.knobs.error_rate = 1.0
    delivery_id = _queue(app, account_id, "texte")
    delivery, waits = _tries(app, delivery_id, MAX_ATTEMPTS)
    # the last try went unanswered: one more asks whether the post was made before the row is given up
    assert delivery.state is DeliveryState.QUEUED and delivery.error_kind == "unconfirmed"
    delivery, _ = _tries(app, delivery_id, 1)
    assert delivery.state is DeliveryState.FAILED and delivery.attempts == MAX_ATTEMPTS + 1
    assert delivery.error == "piaille.example answered with a server error (503)"
    assert all(later > earlier for earlier, later in zip(waits, waits[1:-1], strict=False))  # doubling backoff
    assert sandbox.state.posts() == []
    with app.test_request_context():  # the supporter is not told it was not posted: nobody knows
        message, pending = describe(delivery)
    assert "may have posted" in message and not pending


@pytest.mark.parametrize("network", NETWORKS)
def test_a_post_made_on_the_last_try_whose_answer_was_lost_is_posted_not_failed(
    app: Flask, sandbox: SandboxServer, connect: Any, network: Network
) -> None:
    account_id = connect(network)
    delivery_id = _queue(app, account_id, "Arrivé au dernier essai")
    sandbox.state.knobs.error_rate = 1.0  # refused before anything is stored, until the last try
    assert _tries(app, delivery_id, MAX_ATTEMPTS - 1)[0].state is DeliveryState.QUEUED
    sandbox.state.knobs.error_rate = 0.0
    with answers_late(app, sandbox, timeout_rate=1.0):  # stored, then no answer
        delivery, _ = _tries(app, delivery_id, 1)
    assert (delivery.state, delivery.attempts) == (DeliveryState.QUEUED, MAX_ATTEMPTS)
    assert len(sandbox.state.posts(network.value)) == 1
    assert _tries(app, delivery_id, 1)[0].state is DeliveryState.POSTED
    assert len(sandbox.state.posts(network.value)) == 1


@pytest.mark.parametrize("network", NETWORKS)
def test_a_retry_after_a_timeout_posts_once(app: Flask, sandbox: SandboxServer, connect: Any, network: Network) -> None:
    """The post is stored but its answer never arrives: the retry must not post a second time."""
    account_id = connect(network)
    delivery_id = _queue(app, account_id, "Une seule fois, même après un délai")
    now = utcnow()
    with answers_late(app, sandbox, timeout_rate=1.0):
        assert _process(app, delivery_id, now) is DeliveryState.QUEUED
    assert _delivery(app, delivery_id).error_kind == "unavailable"
    assert _process(app, delivery_id, now + timedelta(hours=1)) is DeliveryState.POSTED
    assert len(sandbox.state.posts(network.value)) == 1


@pytest.mark.parametrize("network", NETWORKS)
def test_the_outbox_survives_a_killed_worker_thread(
    app: Flask, sandbox: SandboxServer, connect: Any, network: Network
) -> None:
    """A worker dies after the network took the post and before it recorded it: swept, retried, posted once."""
    account_id = connect(network)
    delivery_id = _queue(app, account_id, "Tenace")
    real = app.extensions["porte_voix_outbox"]

    class Killed(BaseException):
        pass

    def dies_after_posting(delivery: Delivery, now: datetime) -> Any:
        posting.deliver_post(delivery, now)
        raise Killed  # not an Exception: nothing in the worker records anything

    app.extensions["porte_voix_outbox"] = killer = outbox.Outbox()
    killer.register(posting.KIND, dies_after_posting)
    with app.app_context(), pytest.raises(Killed):
        outbox.process(delivery_id, killer)
    app.extensions["porte_voix_outbox"] = real
    assert _delivery(app, delivery_id).state is DeliveryState.SENDING
    assert len(sandbox.state.posts(network.value)) == 1
    with app.app_context():
        assert outbox.sweep(utcnow()) == 0  # too fresh: its worker may be alive
        later = utcnow() + timedelta(seconds=outbox.STALE_SECONDS + 1)
        assert outbox.sweep(later) == 1
        db.session.commit()
    assert _process(app, delivery_id, later) is DeliveryState.POSTED
    assert len(sandbox.state.posts(network.value)) == 1


def test_the_dispatcher_drains_what_is_due(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    account_ids = [connect(Network.MASTODON, f"personne{n}") for n in range(4)]
    ids = [_queue(app, account_id, f"message {n}") for n, account_id in enumerate(account_ids)]
    dispatcher = ThreadDispatcher(app, workers=3)
    with app.app_context():
        dispatcher.drain_due(utcnow())
    eventually(lambda: {_delivery(app, i).state for i in ids} == {DeliveryState.POSTED}, 20, every=0.05)
    dispatcher.shutdown(wait=True)
    assert {_delivery(app, i).state for i in ids} == {DeliveryState.POSTED}
    assert len(sandbox.state.posts("mastodon")) == 4


def test_an_expired_x_token_is_refreshed_and_the_rotation_kept(
    app: Flask, sandbox: SandboxServer, connect: Any
) -> None:
    account_id = connect(Network.X)
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        old_refresh = services.open_tokens(account)["refresh"]
    sandbox.state.clock.advance(7300)  # X's access tokens live two hours
    delivery_id = _queue(app, account_id, "après deux heures")
    assert _process(app, delivery_id, utcnow() + timedelta(seconds=7300)) is DeliveryState.POSTED
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        assert services.open_tokens(account)["refresh"] != old_refresh  # the new one is kept
        assert account.token_expires_at is not None and account.state is AccountState.CONNECTED
    # The old refresh token was spent: using it again is refused.
    with app.app_context(), pytest.raises(x.ChannelError):
        x.refresh(endpoint(Network.X), x_app(""), str(old_refresh))


def test_a_revoked_token_asks_for_a_reconnection_without_retrying(
    app: Flask, sandbox: SandboxServer, connect: Any
) -> None:
    account_id = connect(Network.X)
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        x.revoke(endpoint(Network.X), x_app(""), services.open_tokens(account)["access"])  # from X's settings
    delivery_id = _queue(app, account_id, "révoqué")
    assert _process(app, delivery_id) is DeliveryState.FAILED
    delivery = _delivery(app, delivery_id)
    assert delivery.error_kind == ErrorKind.AUTH_EXPIRED.value and delivery.attempts == 1
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None and account.state is AccountState.NEEDS_RECONNECT
        with pytest.raises(posting.PostRefused, match="reconnect"):
            posting.queue_post(account, "encore")


def test_tokens_are_unreadable_in_the_raw_database(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    account_id = connect(Network.BLUESKY)
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        secrets = services.open_tokens(account)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM social_account")).all()
        dump = repr(rows)
        assert secrets["access_jwt"] not in dump and secrets["refresh_jwt"] not in dump
        assert secrets["access_jwt"].split(".")[1] not in dump  # not even the JWT's claims


@pytest.mark.parametrize("network", NETWORKS)
def test_disconnect_revokes_at_the_network_and_cancels_queued_posts(
    app: Flask, sandbox: SandboxServer, connect: Any, network: Network
) -> None:
    account_id = connect(network)
    delivery_id = _queue(app, account_id, "jamais envoyé")
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        secrets = services.open_tokens(account)
        result = services.disconnect(account)
        db.session.commit()
        assert result.revoked_at_network
        assert db.session.get(SocialAccount, account_id) is None
        kinds = [c.kind for c in db.session.scalars(select(Consent).order_by(Consent.id))]
        assert kinds == [ConsentKind.CONNECT, ConsentKind.POST, ConsentKind.DISCONNECT]
    assert _delivery(app, delivery_id).state is DeliveryState.CANCELLED
    revoked_token = secrets.get("access") or secrets.get("refresh_jwt")
    table = {
        Network.X: ("x", "access"),
        Network.MASTODON: ("mastodon", "tokens"),
        Network.BLUESKY: ("bluesky", "refresh"),
    }[network]
    assert revoked_token not in sandbox.state.table(*table)
    assert sandbox.state.posts() == []


def test_disconnect_still_deletes_the_tokens_when_the_network_is_down(
    app: Flask, sandbox: SandboxServer, connect: Any
) -> None:
    account_id = connect(Network.MASTODON)
    with answers_late(app, sandbox, down_hosts=["piaille.example"]), app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        assert not services.disconnect(account).revoked_at_network
        db.session.commit()
        assert db.session.get(SocialAccount, account_id) is None


def test_an_over_long_text_is_refused_before_it_is_queued(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    account_id = connect(Network.BLUESKY)
    with app.app_context():
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        with pytest.raises(posting.PostRefused, match="301/300"):
            posting.queue_post(account, "é" * 301)
        assert db.session.scalars(select(Delivery)).all() == []


def test_followers_are_read_again_after_a_day(app: Flask, sandbox: SandboxServer, connect: Any) -> None:
    account_id = connect(Network.MASTODON)
    with app.app_context():
        assert posting.refresh_followers(utcnow()) == 0  # just read at connection
        account = db.session.get(SocialAccount, account_id)
        assert account is not None
        account.followers = 1
        db.session.commit()
        assert posting.refresh_followers(utcnow() + timedelta(hours=25)) == 1
        db.session.refresh(account)
        assert account.followers and account.followers > 1


@pytest.mark.parametrize("network", NETWORKS)
def test_reconnecting_revokes_the_grant_it_replaces(
    app: Flask, sandbox: SandboxServer, connect: Any, network: Network
) -> None:
    first_id = connect(network)
    with app.app_context():
        account = db.session.get(SocialAccount, first_id)
        assert account is not None
        old = services.open_tokens(account)
        supporter = account.supporter
        connect_sandbox_account(supporter, network, "camille")  # the same supporter connects again
        db.session.commit()
        assert len(db.session.scalars(select(SocialAccount)).all()) == 1
    old_token = old.get("access") or old.get("refresh_jwt")
    table = {
        Network.X: ("x", "access"),
        Network.MASTODON: ("mastodon", "tokens"),
        Network.BLUESKY: ("bluesky", "refresh"),
    }[network]
    assert old_token not in sandbox.state.table(*table)
    assert _process(app, _queue(app, first_id, "après reconnexion")) is DeliveryState.POSTED
