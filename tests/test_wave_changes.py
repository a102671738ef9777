"""Changes that cannot hurt a live campaign: an open wave edited with its consequences shown first, a reminder
test-sent to its organiser before the wave opens, a pledge withdrawn until it is released, the link to the post.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from accounts.models import AuditEvent, Organisation, Role
from campaign.labels import WAVE_CHANGED, WITHDRAWN
from campaign.models import Campaign, Wave, WaveStatus
from campaign.offer import wave_target_ids
from channels import Network
from channels.api import PostResult
from database import utcnow
from extensions import db
from sandbox.server import SandboxServer
from scheduler import outbox, outcomes
from scheduler.models import Delivery, DeliveryState
from supporters.models import SocialAccount
from tests.conftest import login
from tests.test_pledges import BODIES, pledge, wave
from waves.jobs import open_due_waves
from waves.models import Pledge, PledgeState
from waves.pledges import release_due_pledges


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign], make_org: Callable[..., Any]) -> Campaign:
    return make_campaign(make_org(), targets=3, variants=BODIES)


def _opened(app: Flask, campaign: Campaign) -> int:
    """A wave that opened five minutes ago (scheduled for later, then moved back: the past is refused)."""
    wave_id = wave(app, campaign, opens_in=timedelta(minutes=5))
    with app.app_context():
        db.session.execute(db.update(Wave).where(Wave.id == wave_id).values(opens_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        open_due_waves(utcnow())
        assert db.session.get_one(Wave, wave_id).status is WaveStatus.OPEN
    return wave_id


def _form(app: Flask, wave_id: int, **changes: Any) -> dict[str, Any]:
    """The wave form as its page fills it, with `changes`."""
    from i18n import to_local

    with app.app_context():
        the_wave = db.session.get_one(Wave, wave_id)
        zone = app.config["TIMEZONE"]
        data: dict[str, Any] = {
            "title": the_wave.title,
            "opens_at": to_local(the_wave.opens_at, zone).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": to_local(the_wave.closes_at, zone).strftime("%Y-%m-%dT%H:%M"),
            "messages": [str(m) for m in the_wave.message_ids],
            "networks": list(the_wave.networks),
            "cap_per_hour": str(the_wave.cap_per_hour),
            "reminder_text": "La vague est ouverte.",
        }
    data.update(changes)
    return data


def test_an_open_wave_is_edited_after_its_consequences_are_shown(
    app: Flask, client: FlaskClient, campaign: Campaign, connect: Callable[..., int], make_user, make_org
) -> None:
    wave_id = _opened(app, campaign)
    alix = connect(Network.BLUESKY, "alix")
    kept = pledge(app, wave_id, alix, "le Livre blanc, lisez-le", recipient_index=0)  # Groupe A
    dropped = pledge(app, wave_id, alix, "nos propositions pour les quartiers", recipient_index=1)  # Groupe B
    with app.app_context():
        org = db.session.get_one(Organisation, db.session.get_one(Campaign, campaign.id).organisation_id)
        db.session.expunge(org)
    login(client, make_user(org, Role.ORGANISER))
    page = client.get(f"/admin/campaigns/{campaign.id}/waves/{wave_id}/edit?lang=en").text
    assert "its opening time stays" in page and "readonly" in page.split('name="opens_at"')[1].split(">")[0]
    shown = client.post(
        f"/admin/campaigns/{campaign.id}/waves/{wave_id}/edit?lang=en",
        data=_form(app, wave_id, group_name=["Groupe A"]),
    )
    assert "Saving these changes will:" in shown.text
    assert "take 1 target out of the wave" in shown.text and "cancel 1 pledged post" in shown.text
    with app.app_context():  # nothing is saved before it is confirmed
        assert len(wave_target_ids(db.session.get_one(Wave, wave_id))) == 3
        assert db.session.get_one(Pledge, dropped).state is PledgeState.PLEDGED
    client.post(
        f"/admin/campaigns/{campaign.id}/waves/{wave_id}/edit",
        data={**_form(app, wave_id, group_name=["Groupe A"]), "confirmed": "1"},
    )
    with app.app_context():
        assert len(wave_target_ids(db.session.get_one(Wave, wave_id))) == 2
        gone = db.session.get_one(Pledge, dropped)
        assert (gone.state, gone.reason) == (PledgeState.CANCELLED, WAVE_CHANGED)
        assert db.session.get_one(Pledge, kept).state is PledgeState.PLEDGED
        opened = db.session.get_one(Wave, wave_id).opens_at
        # Only the confirmed change is logged, not the page that showed its consequences.
        assert db.session.scalars(select(AuditEvent.action)).all() == ["wave.edited"]
    # The window shortened: a pledge planned after the new close is planned again inside it.
    with app.app_context():
        late = db.session.get_one(Pledge, kept)
        late.release_at = utcnow() + timedelta(minutes=100)
        db.session.commit()
    sooner = (utcnow() + timedelta(minutes=30)).astimezone(ZoneInfo(app.config["TIMEZONE"]))
    data = {
        **_form(app, wave_id, group_name=["Groupe A"], closes_at=sooner.strftime("%Y-%m-%dT%H:%M")),
        "confirmed": "1",
    }
    data["opens_at"] = "2020-01-01T00:00"  # a forged opening time is ignored: the wave opened already
    client.post(f"/admin/campaigns/{campaign.id}/waves/{wave_id}/edit", data=data)
    with app.app_context():
        the_wave = db.session.get_one(Wave, wave_id)
        moved = db.session.get_one(Pledge, kept)
        assert the_wave.opens_at == opened and the_wave.closes_at < utcnow() + timedelta(minutes=31)
        assert moved.release_at is not None and moved.release_at < the_wave.closes_at


def test_a_reminder_is_test_sent_to_its_organiser(
    app: Flask, client: FlaskClient, campaign: Campaign, mailbox: SandboxServer, make_user
) -> None:
    wave_id = wave(app, campaign, reminder_text="Mardi, on écrit aux députés.")
    with app.app_context():
        org = db.session.get_one(Organisation, db.session.get_one(Campaign, campaign.id).organisation_id)
        db.session.expunge(org)
    user = make_user(org, Role.ORGANISER)
    login(client, user)
    listing = client.get(f"/admin/campaigns/{campaign.id}/waves?lang=en").text
    assert "Send me the reminder as a test" in listing
    answer = client.post(f"/admin/campaigns/{campaign.id}/waves/{wave_id}/test-reminder?lang=en", follow_redirects=True)
    assert f"sent as a test to {user.email}" in answer.text
    mail = mailbox.state.mailbox(user.email)[-1]
    assert mail.subject.startswith("Test · ") and ":" not in mail.subject
    assert "Mardi, on écrit aux députés." in mail.text
    assert "Prénom1 Nom1" in mail.text and "/c/" + campaign.slug in mail.text
    assert "Unsubscribe" not in mail.text  # the organiser subscribed to nothing
    with app.app_context():
        assert db.session.get_one(Wave, wave_id).status is WaveStatus.SCHEDULED  # nothing else moved


def test_a_pledge_is_withdrawn_until_it_is_released(
    app: Flask, client: FlaskClient, campaign: Campaign, connect: Callable[..., int], sandbox: SandboxServer
) -> None:
    wave_id = _opened(app, campaign)
    alix = connect(Network.BLUESKY, "alix")
    noa = connect(Network.MASTODON, "noa")
    first = pledge(app, wave_id, alix, "le Livre blanc, lisez-le", recipient_index=0)
    second = pledge(app, wave_id, alix, "nos propositions pour les quartiers", recipient_index=1)
    with app.app_context():
        alix_id = db.session.get_one(SocialAccount, alix).supporter_id
        noa_id = db.session.get_one(SocialAccount, noa).supporter_id
    with client.session_transaction() as session:
        session["supporter"] = noa_id
    assert client.post(f"/c/{campaign.slug}/pledges/{first}/withdraw").status_code == 404  # not Noa's
    with client.session_transaction() as session:
        session["supporter"] = alix_id
    page = client.get(f"/c/{campaign.slug}/pledges?lang=en").text
    assert page.count("Withdraw this pledge") == 2
    withdrawn = client.post(f"/c/{campaign.slug}/pledges/{first}/withdraw?lang=en", follow_redirects=True)
    assert "Pledge withdrawn" in withdrawn.text and "Not posted: you withdrew it" in withdrawn.text
    with app.app_context():
        assert (db.session.get_one(Pledge, first).state, db.session.get_one(Pledge, first).reason) == (
            PledgeState.CANCELLED,
            WITHDRAWN,
        )
        db.session.execute(db.update(Pledge).where(Pledge.id == second).values(release_at=utcnow()))
        db.session.commit()
        assert release_due_pledges(utcnow() + timedelta(seconds=1)) == 1  # the withdrawn one is not released
        delivery_id = db.session.get_one(Pledge, second).delivery_id
    late = client.post(f"/c/{campaign.slug}/pledges/{second}/withdraw?lang=en", follow_redirects=True)
    assert "Too late to withdraw it" in late.text
    sandbox.state.knobs.bluesky_existing_domains = ["bsky.social"]  # the targets' handles exist there
    with app.app_context():
        for due in outbox.take_due(utcnow() + timedelta(seconds=2)):
            outbox.process(due, app.extensions["porte_voix_outbox"], now=utcnow() + timedelta(seconds=2))
        delivery = db.session.get_one(Delivery, delivery_id)
        assert delivery.state is DeliveryState.POSTED and delivery.remote_url, delivery.error
        url = delivery.remote_url
    page = client.get(f"/c/{campaign.slug}/pledges?lang=en").text
    assert f'href="{url}"' in page and "See your post" in page


def test_a_posts_link_is_a_web_address_or_nothing() -> None:
    """A hostile Mastodon instance may answer any "url": only http(s) becomes a link on our pages."""
    now = utcnow()
    assert outcomes.success(PostResult("1", "javascript:alert(1)"), now)["remote_url"] == ""
    assert outcomes.success(PostResult("1", "https://piaille.fr/@a/1"), now)["remote_url"] == "https://piaille.fr/@a/1"
