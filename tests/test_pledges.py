"""Pledged posts: approved word for word, released once in the window under the caps, never on X."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from campaign.models import Campaign, Wave
from campaign.offer import wave_target_ids
from channels import Network
from channels.errors import ChannelError, ErrorKind
from database import utcnow
from extensions import db
from recipients.models import Recipient
from sandbox.server import SandboxServer
from scheduler import outbox
from scheduler.models import Delivery, DeliveryState
from supporters.models import SocialAccount
from waves.jobs import close_due_waves, open_due_waves
from waves.models import Pledge, PledgeState
from waves.pledges import PLEDGE, PledgeRefused, deliver_pledge, make_pledge, release_due_pledges, similarity
from waves.services import schedule_wave

BODIES = [
    "{handle} le Livre blanc propose dix mesures pour l'emploi local : lisez-le {link} {hashtags}",
    "{handle} vous avez reçu nos propositions ? Elles changent la vie des quartiers. {link}",
]


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign], make_org: Callable[..., Any]) -> Campaign:
    return make_campaign(make_org(), targets=3, variants=BODIES)


def wave(app: Flask, campaign: Campaign, *, opens_in: timedelta = timedelta(minutes=10), **overrides: Any) -> int:
    now = utcnow()
    with app.app_context():
        db_campaign = db.session.get_one(Campaign, campaign.id)
        values: dict[str, Any] = {
            "title": "Vendredi",
            "opens_at": now + opens_in,
            "closes_at": now + opens_in + timedelta(hours=2),
            "message_ids": [m.id for m in db_campaign.messages],
            "networks": [Network.X, Network.BLUESKY, Network.MASTODON],
            "criteria": {},
            "now": now,
        }
        values.update(overrides)
        made = schedule_wave(db_campaign, **values)
        db.session.commit()
        return made.id


def pledge(app: Flask, wave_id: int, account_id: int, text: str, recipient_index: int = 0) -> int:
    with app.app_context():
        the_wave = db.session.get_one(Wave, wave_id)
        account = db.session.get_one(SocialAccount, account_id)
        recipient_id = wave_target_ids(the_wave)[recipient_index]
        handle = db.session.get_one(Recipient, recipient_id).handle(account.network)
        made = make_pledge(
            the_wave,
            account,
            recipient_id=recipient_id,
            variant_id=None,
            text=text if f"@{handle}" in text else f"@{handle} {text}",  # a pledge mentions its target
            now=utcnow(),
        )
        db.session.commit()
        return made.id


def test_the_model_refuses_a_pledge_on_x_and_so_does_the_database(app: Flask, campaign: Campaign) -> None:
    with pytest.raises(ValueError, match="never on X"):
        Pledge(network=Network.X, text="t")
    wave_id = wave(app, campaign)
    with app.app_context():
        with pytest.raises(IntegrityError):  # a CHECK constraint, for code that skips the model
            db.session.execute(
                insert(Pledge).values(
                    wave_id=wave_id, supporter_id=1, network="x", recipient_id=1, text="t", state="pledged"
                )
            )
        db.session.rollback()


def test_the_service_the_form_and_the_engine_refuse_x(
    app: Flask, client: FlaskClient, campaign: Campaign, sandbox: SandboxServer, connect: Any
) -> None:
    wave_id = wave(app, campaign)
    x_account = connect(Network.X, "camille")
    with app.app_context():
        the_wave = db.session.get_one(Wave, wave_id)
        with pytest.raises(PledgeRefused, match="never on X"):
            make_pledge(
                the_wave,
                db.session.get_one(SocialAccount, x_account),
                recipient_id=wave_target_ids(the_wave)[0],
                variant_id=None,
                text="Un texte",
                now=utcnow(),
            )
        supporter_id = db.session.get_one(SocialAccount, x_account).supporter_id
    with client.session_transaction() as session:
        session["supporter"] = supporter_id
    response = client.post(f"/c/{campaign.slug}/pledge", data={"network": "x", "recipient_id": "1", "text": "Un texte"})
    assert response.status_code == 400 and "jamais sur X" in response.text  # the campaign's page speaks French
    with app.app_context():
        assert db.session.scalars(select(Pledge)).all() == []
        delivery = outbox.enqueue(
            kind=PLEDGE, account_id=x_account, network=Network.X, text="Un texte", idempotency_key="k-x"
        )
        db.session.commit()
        with pytest.raises(ChannelError) as refused:
            deliver_pledge(delivery, utcnow())
        assert refused.value.kind is ErrorKind.REJECTED
        assert outbox.process(delivery.id, app.extensions["porte_voix_outbox"]) is DeliveryState.FAILED
    assert sandbox.state.posts("x") == []


def test_similarity_tells_a_copy_from_another_text() -> None:
    first = "@depute1 le Livre blanc propose dix mesures pour l'emploi local : lisez-le https://x.example #LB"
    assert similarity(first, first.replace("@depute1", "@depute1 Madame,")) > 0.8
    assert similarity(first, "@depute1 vous avez reçu nos propositions ? Elles changent la vie des quartiers.") < 0.2


def test_a_pledge_is_approved_on_the_page_guarded_against_copies_and_released_once(
    app: Flask, client: FlaskClient, campaign: Campaign, sandbox: SandboxServer, connect: Any
) -> None:
    wave_id = wave(app, campaign, cap_per_hour=100)
    first = connect(Network.BLUESKY, "alix")
    with app.app_context():
        supporter_id = db.session.get_one(SocialAccount, first).supporter_id
    with client.session_transaction() as session:
        session["supporter"] = supporter_id
    page = client.get(f"/c/{campaign.slug}/pledge")
    assert page.status_code == 200 and "Vendredi" in page.text and "dix mesures" in page.text
    recipient_id = page.text.split('name="recipient_id" type="hidden" value="')[1].split('"')[0]
    text = page.text.split('name="text"')[1].split(">", 1)[1].split("</textarea>")[0].replace("&#39;", "'")
    response = client.post(
        f"/c/{campaign.slug}/pledge", data={"network": "bluesky", "recipient_id": recipient_id, "text": text}
    )
    assert response.status_code == 302
    assert "En attente de son moment" in client.get(response.headers["Location"]).text
    # another supporter with nearly the same words, to the same target: refused, then taken in their own words
    second = connect(Network.MASTODON, "noa")
    with app.app_context():
        second_supporter = db.session.get_one(SocialAccount, second).supporter_id
    with client.session_transaction() as session:
        session["supporter"] = second_supporter
    with app.app_context():
        target = db.session.get_one(Recipient, int(recipient_id))
        on_bluesky, on_mastodon = "@" + (target.handle_bluesky or ""), "@" + (target.handle_mastodon or "")
    copy = {"network": "mastodon", "recipient_id": recipient_id, "text": text.replace(on_bluesky, on_mastodon) + " !"}
    refused = client.post(f"/c/{campaign.slug}/pledge", data=copy)
    assert refused.status_code == 400 and "presque identique" in refused.text
    unmentioned = {**copy, "text": "Je vis à Lille et ces mesures comptent pour mon quartier. Soutenez-les vendredi !"}
    refused = client.post(f"/c/{campaign.slug}/pledge", data=unmentioned)
    assert refused.status_code == 400 and f"Gardez {on_mastodon} dans le message" in refused.text
    own = {**copy, "text": f"{on_mastodon} je vis à Lille et ces mesures comptent pour mon quartier. Soutenez-les !"}
    assert client.post(f"/c/{campaign.slug}/pledge", data=own).status_code == 302
    sandbox.state.knobs.bluesky_existing_domains = ["bsky.social"]  # the targets' handles exist there
    with app.app_context():
        opened_at = db.session.get_one(Wave, wave_id).opens_at
        open_due_waves(opened_at)
        the_wave = db.session.get_one(Wave, wave_id)
        releases = [p.release_at for p in db.session.scalars(select(Pledge))]
        assert all(the_wave.opens_at <= at < the_wave.closes_at for at in releases)  # spread in the window
        assert release_due_pledges(the_wave.opens_at - timedelta(seconds=1)) == 0
        assert release_due_pledges(the_wave.closes_at - timedelta(seconds=1)) == 2
        assert release_due_pledges(the_wave.closes_at - timedelta(seconds=1)) == 0  # released once
        for delivery_id in outbox.take_due(utcnow() + timedelta(hours=3)):
            outbox.process(delivery_id, app.extensions["porte_voix_outbox"], now=utcnow() + timedelta(hours=3))
        states = {(d.state, d.error) for d in db.session.scalars(select(Delivery).where(Delivery.kind == PLEDGE))}
        assert states == {(DeliveryState.POSTED, "")}
    assert len(sandbox.state.posts("bluesky")) == 1 and len(sandbox.state.posts("mastodon")) == 1
    assert sandbox.state.posts("bluesky")[0].text == text


def test_the_cap_spaces_releases_and_what_does_not_fit_is_cancelled_at_the_close(
    app: Flask, campaign: Campaign, sandbox: SandboxServer, connect: Any
) -> None:
    wave_id = wave(app, campaign, cap_per_hour=1)
    words = ["Première voix : l'emploi local d'abord.", "Deuxième voix, pour nos quartiers.", "Troisième : lisez."]
    for n, text in enumerate(words):
        pledge(app, wave_id, connect(Network.BLUESKY, f"voix{n}"), text)
    with app.app_context():
        the_wave = db.session.get_one(Wave, wave_id)
        open_due_waves(the_wave.opens_at)
        releases = sorted(p.release_at for p in db.session.scalars(select(Pledge)))
        assert all(
            (later - earlier).total_seconds() >= 3600 * 0.2
            for earlier, later in zip(releases, releases[1:], strict=False)
        )
        assert releases[2] >= the_wave.opens_at + timedelta(hours=2)  # one an hour: the third misses the window
        assert release_due_pledges(releases[0]) == 1
        close_due_waves(the_wave.closes_at)
        states = sorted(p.state.value for p in db.session.scalars(select(Pledge)))
        assert states == ["cancelled", "cancelled", "released"]
        reason = db.session.scalars(select(Pledge.reason).where(Pledge.state == PledgeState.CANCELLED)).first()
        assert reason == "the wave closed before its turn"


def test_a_pledge_after_the_wave_closed_is_refused(
    app: Flask, campaign: Campaign, sandbox: SandboxServer, connect: Any
) -> None:
    wave_id = wave(app, campaign)
    account_id = connect(Network.BLUESKY, "tard")
    with app.app_context():
        close_due_waves(db.session.get_one(Wave, wave_id).closes_at)
    with pytest.raises(PledgeRefused, match="This wave is over"):
        pledge(app, wave_id, account_id, "Trop tard ?")
