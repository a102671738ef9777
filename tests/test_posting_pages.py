"""A supporter connects an account on the campaign page, posts in one click, and follows the post."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from campaign.confirm import confirm_link_posts
from campaign.models import Action, ActionMode
from channels import Network, bluesky
from database import utcnow
from extensions import db
from sandbox.server import SandboxServer
from scheduler import outbox
from scheduler.models import Delivery, DeliveryState
from supporters.models import Consent, ConsentKind, SocialAccount
from tests.conftest import answers_late

SLUG = "pour-le-livre-blanc"


def posting_campaign(make_org: Any, make_campaign: Any, sandbox: SandboxServer) -> Any:
    """A live campaign on X, Bluesky and Mastodon whose deputies are on the sandbox's Bluesky."""
    # The deputies are on Bluesky: their handles resolve, so mentions of them become facets.
    for n in (1, 2, 3):
        bluesky.create_session(bluesky.Endpoint(sandbox.url), f"depute{n}.bsky.social", "aaaa-bbbb-cccc-dddd")
    return make_campaign(make_org(), slug=SLUG, networks=["x", "bluesky", "mastodon"])


@pytest.fixture
def campaign(make_org: Any, make_campaign: Any, sandbox: SandboxServer) -> Any:
    return posting_campaign(make_org, make_campaign, sandbox)


def _follow_consent(client: FlaskClient, start: str, username: str) -> str:
    """Start a connection, approve it on the sandbox's page as `username`; returns where we land."""
    response = client.get(start)
    assert response.status_code == 302
    approved = requests.post(
        response.headers["Location"], data={"username": username, "decision": "allow"}, allow_redirects=False, timeout=5
    )
    assert approved.status_code == 302, approved.text
    back = client.get(approved.headers["Location"])
    assert back.status_code == 302
    return back.headers["Location"]


def connect_x(client: FlaskClient, username: str = "Camille") -> None:
    assert _follow_consent(client, f"/s/connect/x?next=/c/{SLUG}", username).endswith(f"/c/{SLUG}")


def _post_form(page: str, network: str) -> tuple[str, str]:
    match = re.search(rf'action="(/c/{SLUG}/post/{network}/[^"]+)"', page)
    assert match, f"no post form for {network}"
    text = re.search(rf'<textarea id="post-{network}"[^>]*>(.*?)</textarea>', page, re.S)
    assert text
    return match.group(1), text.group(1).replace("&#39;", "'")


def _run_outbox(app: Flask) -> None:
    with app.app_context():
        for delivery_id in outbox.take_due(utcnow()):
            outbox.process(delivery_id, app.extensions["porte_voix_outbox"])
        db.session.remove()


def test_connect_x_then_post_the_edited_text_and_see_the_link(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    connect_x(client)
    page = client.get(f"/c/{SLUG}?lang=en").text
    assert "Post on X as @Camille" in page and "Connected as @Camille on X" in page
    action, shown = _post_form(page, "x")
    edited = shown + " Merci !"
    response = client.post(action, data={"text": edited})
    assert response.status_code == 303
    status_url = response.headers["Location"]
    pending = client.get(status_url).text
    assert "Your message to Prénom" in pending  # whom it goes to
    assert "Sending to X" in pending and 'http-equiv="refresh"' in pending  # refreshes itself without JavaScript
    assert client.get(status_url + ".json").json["pending"] is True
    assert sandbox.state.posts() == []  # nothing before the worker runs
    _run_outbox(app)
    done = client.get(status_url).text
    assert "Posted on X." in done and 'http-equiv="refresh"' not in done
    link = client.get(status_url + ".json").json["url"]
    assert link.startswith(sandbox.url + "/x/Camille/status/") and link in done
    [posted] = sandbox.state.posts("x")
    assert posted.text == edited
    with app.app_context():
        action_row = db.session.scalars(select(Action)).one()
        assert (action_row.mode, action_row.text) == (ActionMode.API, edited) and action_row.delivery_id
        consent = db.session.scalars(select(Consent).where(Consent.kind == ConsentKind.POST)).one()
        assert consent.text == edited and consent.network is Network.X


def test_x_is_never_posted_without_the_click(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    connect_x(client)
    page = client.get(f"/c/{SLUG}").text
    action, _shown = _post_form(page, "x")
    assert client.get(action).status_code == 405  # following a link never posts
    assert client.post(action + "x", data={"text": "forged"}).status_code == 404
    _run_outbox(app)
    assert sandbox.state.posts() == []
    with app.app_context():
        assert db.session.scalars(select(Delivery)).all() == []


def test_a_double_click_queues_one_post(app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer) -> None:
    connect_x(client)
    action, shown = _post_form(client.get(f"/c/{SLUG}").text, "x")
    first = client.post(action, data={"text": shown}).headers["Location"]
    second = client.post(action, data={"text": shown}).headers["Location"]
    assert first == second
    with app.app_context():
        assert len(db.session.scalars(select(Delivery)).all()) == 1


def test_an_over_long_edit_is_refused_and_kept(app: Flask, client: FlaskClient, campaign: Any) -> None:
    connect_x(client)
    action, shown = _post_form(client.get(f"/c/{SLUG}?lang=en").text, "x")
    long_text = shown + " " + "très " * 60
    response = client.post(action, data={"text": long_text})
    assert response.status_code == 422
    assert "Too long for X" in response.text and long_text.strip() in response.text.replace("&#39;", "'")
    with app.app_context():
        assert db.session.scalars(select(Delivery)).all() == [] and db.session.scalars(select(Action)).all() == []


def test_a_post_of_another_browser_is_not_found(app: Flask, client: FlaskClient, campaign: Any) -> None:
    connect_x(client)
    action, shown = _post_form(client.get(f"/c/{SLUG}").text, "x")
    status_url = client.post(action, data={"text": shown}).headers["Location"]
    stranger = app.test_client()
    assert stranger.get(status_url).status_code == 404
    assert stranger.get(status_url + ".json").status_code == 404


def test_a_rate_limit_is_said_with_the_time_it_lifts(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    connect_x(client)
    sandbox.state.knobs.burst_429 = 1
    action, shown = _post_form(client.get(f"/c/{SLUG}?lang=en").text, "x")
    status_url = client.post(action, data={"text": shown}).headers["Location"]
    _run_outbox(app)
    with app.app_context():
        delivery = db.session.scalars(select(Delivery)).one()
        at = delivery.next_attempt_at.astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%H:%M")  # its clock
    page = client.get(status_url).text
    assert f"your message goes out automatically at {at}." in page and "UTC" not in page
    assert client.get(status_url + ".json").json["pending"] is True


def test_a_revoked_account_is_asked_to_reconnect(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    connect_x(client)
    sandbox.state.table("x", "access").clear()
    sandbox.state.table("x", "refresh").clear()  # the supporter removed the app in X's settings
    action, shown = _post_form(client.get(f"/c/{SLUG}?lang=en").text, "x")
    status_url = client.post(action, data={"text": shown}).headers["Location"]
    _run_outbox(app)
    page = client.get(status_url).text
    assert "X no longer accepts the connection: reconnect your account" in page
    assert "Reconnect my X account" in page
    again = client.post(action, data={"text": shown})  # the earlier one failed, so this is a new try…
    assert again.status_code == 422 and "reconnect your account" in again.text  # …refused before it is queued


def test_mastodon_connection_and_its_refusals(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    sandbox.state.knobs.not_mastodon_hosts = ["blog.example"]
    sandbox.state.knobs.mastodon_max_characters = 1000
    form = f"/s/connect/mastodon?next=/c/{SLUG}&lang=en"
    not_mastodon = client.post(form, data={"instance": "blog.example", "next": f"/c/{SLUG}"})
    assert "blog.example does not answer as a Mastodon server" in not_mastodon.text
    with answers_late(app, sandbox, down_hosts=["lent.example"]):
        down = client.post(form, data={"instance": "https://lent.example/", "next": f"/c/{SLUG}"})
    assert "lent.example did not answer" in down.text
    started = client.post(form, data={"instance": "@camille@Piaille.Example", "next": f"/c/{SLUG}"})
    assert started.status_code == 302
    approved = requests.post(
        started.headers["Location"], data={"username": "camille", "decision": "allow"}, allow_redirects=False, timeout=5
    )
    assert client.get(approved.headers["Location"]).headers["Location"].endswith(f"/c/{SLUG}")
    page = client.get(f"/c/{SLUG}?lang=en").text
    assert "Post on Mastodon as @camille@piaille.example" in page and "/1000" in page  # the instance's own limit
    length = client.post(f"/c/{SLUG}/length", json={"network": "mastodon", "text": "é" * 600}).json
    assert (length["limit"], length["ok"]) == (1000, True)


def test_mastodon_cancel_on_the_consent_page(client: FlaskClient, campaign: Any) -> None:
    started = client.post("/s/connect/mastodon", data={"instance": "piaille.example", "next": f"/c/{SLUG}"})
    denied = requests.post(started.headers["Location"], data={"decision": "deny"}, allow_redirects=False, timeout=5)
    back = client.get(denied.headers["Location"])
    assert back.headers["Location"].endswith(f"/c/{SLUG}")
    assert "no account was connected" in client.get(f"/c/{SLUG}?lang=en").text


def test_bluesky_connection_with_an_app_password(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    form = f"/s/connect/bluesky?lang=en&next=/c/{SLUG}"
    assert "Rehearsal: this Bluesky is the sandbox" in client.get(form).text
    main_password = client.post(form, data={"handle": "camille.bsky.social", "app_password": "hunter2hunter2"})
    assert "never your main password" in main_password.text
    bluesky.create_session(bluesky.Endpoint(sandbox.url), "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    wrong = client.post(form, data={"handle": "@camille.bsky.social", "app_password": "abcd-efgh-ijkl-zzzz"})
    assert "Bluesky refused this handle and app password" in wrong.text
    right = client.post(
        form,
        data={
            "handle": "https://bsky.app/profile/camille.bsky.social",
            "app_password": "abcd-efgh-ijkl-mnop",
            "next": f"/c/{SLUG}",
        },
    )
    assert right.status_code == 302 and right.headers["Location"].endswith(f"/c/{SLUG}")
    with app.app_context():
        account = db.session.scalars(select(SocialAccount)).one()
        assert "abcd-efgh-ijkl-mnop" not in account.sealed_tokens  # the password opened a session; it is not kept
    action, shown = _post_form(client.get(f"/c/{SLUG}").text, "bluesky")
    client.post(action, data={"text": shown})
    _run_outbox(app)
    [posted] = sandbox.state.posts("bluesky")
    assert posted.text == shown


def test_the_accounts_page_lists_consents_and_disconnects(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    connect_x(client)
    action, shown = _post_form(client.get(f"/c/{SLUG}").text, "x")
    client.post(action, data={"text": shown})
    page = client.get("/s/accounts?lang=en").text
    assert "@Camille" in page and "posted:" in page and shown.split()[0] in page
    response = client.post("/s/accounts/x/disconnect", follow_redirects=True)
    assert "X revoked our access and we deleted the tokens" in response.text
    assert sandbox.state.table("x", "access") == {}
    with app.app_context():
        assert db.session.scalars(select(SocialAccount)).all() == []
        assert db.session.scalars(select(Delivery)).one().state is DeliveryState.CANCELLED
    assert "Connect your X account" in client.get(f"/c/{SLUG}?lang=en").text
    # Connected again, the same button posts: the cancelled delivery was no double click.
    connect_x(client)
    status_url = client.post(action, data={"text": shown}).headers["Location"]
    _run_outbox(app)
    assert "Posted on X." in client.get(status_url + "?lang=en").text
    assert [p.text for p in sandbox.state.posts("x")] == [shown]


def test_a_compose_link_post_is_confirmed_from_the_public_timeline(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    page = client.get(f"/c/{SLUG}?lang=en").text
    send = re.search(rf'href="(/c/{SLUG}/send/bluesky/[^"]+)"', page)
    shown = re.search(r'id="text-bluesky">(.*?)</p>', page, re.S)
    assert send and shown
    text = shown.group(1).replace("&#39;", "'")
    assert client.get(send.group(1)).status_code == 303
    thanks = client.get(f"/c/{SLUG}/thanks?lang=en").text
    assert "Posted on Bluesky?" in thanks
    client.post(f"/c/{SLUG}/confirm", data={"network": "bluesky", "handle": "@Camille.bsky.social"})
    ep = bluesky.Endpoint(sandbox.url)
    session = bluesky.create_session(ep, "camille.bsky.social", "abcd-efgh-ijkl-mnop")
    bluesky.post(ep, session, "Un autre sujet, sans rapport", rkey=bluesky.new_record_key())
    with app.app_context():
        assert confirm_link_posts(utcnow() + timedelta(minutes=3)) == 0  # not posted yet
        bluesky.post(ep, session, text + " 👍", rkey=bluesky.new_record_key())  # as sent, and a little more
        assert confirm_link_posts(utcnow() + timedelta(minutes=5)) == 0  # looked 2 minutes ago: waits
        assert confirm_link_posts(utcnow() + timedelta(minutes=9)) == 1
        action = db.session.scalars(select(Action)).one()
        assert action.author_handle == "camille.bsky.social" and action.confirmed_at
        assert action.confirmed_url.startswith(sandbox.url + "/bluesky/profile/camille.bsky.social/post/")
    assert "Posted on Bluesky?" not in client.get(f"/c/{SLUG}/thanks?lang=en").text


def test_a_bad_handle_for_confirmation_is_said(client: FlaskClient, campaign: Any) -> None:
    response = client.post(
        f"/c/{SLUG}/confirm?lang=en", data={"network": "bluesky", "handle": "pas un handle"}, follow_redirects=True
    )
    assert "Type your handle as it appears on your profile" in response.text


def _connect_bluesky(client: FlaskClient, sandbox: SandboxServer) -> None:
    response = client.post(
        f"/s/connect/bluesky?next=/c/{SLUG}",
        data={"handle": "camille.bsky.social", "app_password": "abcd-efgh-ijkl-mnop", "next": f"/c/{SLUG}"},
    )
    assert response.status_code == 302


def test_a_mention_nobody_has_is_refused_in_plain_words(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    _connect_bluesky(client, sandbox)
    action, shown = _post_form(client.get(f"/c/{SLUG}?lang=en").text, "bluesky")
    status_url = client.post(action, data={"text": shown + " cc @personne.bsky.social"}).headers["Location"]
    _run_outbox(app)
    page = client.get(status_url).text
    assert "Bluesky refused the message: no Bluesky account is called @personne.bsky.social" in page
    assert client.get(status_url + ".json").json == {
        "state": "failed",
        "pending": False,
        "url": None,
        "message": "Bluesky refused the message: no Bluesky account is called @personne.bsky.social",
    }
    assert sandbox.state.posts() == []


def test_a_network_that_fails_is_retried_later_and_said_so(
    app: Flask, client: FlaskClient, campaign: Any, sandbox: SandboxServer
) -> None:
    _connect_bluesky(client, sandbox)
    sandbox.state.knobs.error_rate = 1.0
    action, shown = _post_form(client.get(f"/c/{SLUG}?lang=en").text, "bluesky")
    status_url = client.post(action, data={"text": shown}).headers["Location"]
    before = utcnow()
    _run_outbox(app)
    calls = sum(sandbox.state.calls.values())  # resolving a mention, or creating the record: it failed
    assert calls > 0
    _run_outbox(app)  # not due again yet: no second try
    assert sum(sandbox.state.calls.values()) == calls
    with app.app_context():
        delivery = db.session.scalars(select(Delivery)).one()
        assert delivery.state is DeliveryState.QUEUED and delivery.next_attempt_at > before + timedelta(seconds=20)
        at = delivery.next_attempt_at.astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%H:%M")  # its clock
    assert f"Bluesky did not answer; we try again at {at}." in client.get(status_url).text
