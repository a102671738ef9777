"""Hearing of waves by e-mail: double opt-in, the reminder (once), its personal link, unsubscribe, bounces."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from campaign.models import Campaign, Wave
from channels import Network
from database import utcnow
from extensions import db
from sandbox.server import SandboxServer
from scheduler import outbox
from scheduler.models import Delivery, DeliveryState
from waves.jobs import open_due_waves, queue_reminders, reminder_slot
from waves.life import pause_wave, resume_wave
from waves.models import Reminder, Subscription, SubscriptionState
from waves.services import schedule_wave


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign], make_org: Callable[..., Any]) -> Campaign:
    return make_campaign(make_org(), targets=7)


def drain(app: Flask, now: datetime | None = None) -> None:
    """Deliver everything due (the wave opened a second ahead), as the workers would."""
    now = now or utcnow() + timedelta(seconds=5)
    with app.app_context():
        for _ in range(10):
            ids = outbox.take_due(now, limit=1000)
            if not ids:
                break
            for delivery_id in ids:
                outbox.process(delivery_id, app.extensions["porte_voix_outbox"], now=now)
        db.session.remove()


def subscribe(client: FlaskClient, campaign: Campaign, email: str) -> None:
    response = client.post(f"/c/{campaign.slug}/subscribe", data={"email": email})
    assert response.status_code == 302


def confirm_link(mailbox: SandboxServer, email: str) -> str:
    mail = next(m for m in reversed(mailbox.state.mailbox(email)) if "/s/confirm/" in m.text)
    match = re.search(r"http://localhost(/s/confirm/\S+)", mail.text)
    assert match, mail.text
    return match.group(1)


def open_wave_now(app: Flask, campaign: Campaign, **overrides: Any) -> int:
    now = utcnow()
    with app.app_context():
        db_campaign = db.session.get_one(Campaign, campaign.id)
        wave = schedule_wave(
            db_campaign,
            title="Jeudi",
            opens_at=now,
            closes_at=now + timedelta(hours=2),
            message_ids=[m.id for m in db_campaign.messages],
            networks=[Network.BLUESKY, Network.MASTODON],
            criteria={},
            reminder_text="Les députés votent jeudi : écrivez-leur.",
            now=now,
            **overrides,
        )
        db.session.commit()
        open_due_waves(now + timedelta(seconds=1))
        return wave.id


def test_double_opt_in_then_one_reminder_per_wave_with_its_own_targets(
    app: Flask, client: FlaskClient, campaign: Campaign, mailbox: SandboxServer
) -> None:
    subscribe(client, campaign, "Camille@Exemple.FR")
    drain(app)
    [confirmation] = mailbox.state.mailbox("camille@exemple.fr")
    assert "Confirmez" in confirmation.subject and confirmation.text and confirmation.html  # in the campaign's French
    open_wave_now(app, campaign)
    with app.app_context():
        assert queue_reminders(utcnow()) == 0  # not confirmed yet: nothing for them
    page = client.get(confirm_link(mailbox, "camille@exemple.fr"))
    assert page.status_code == 200 and "camille@exemple.fr" in page.text
    assert f'href="/c/{campaign.slug}">Retour à la campagne' in page.text
    with app.app_context():
        assert queue_reminders(utcnow()) == 1
        assert queue_reminders(utcnow()) == 0  # a second run, or a second scheduler: nothing more
    drain(app)
    drain(app)
    reminders = [m for m in mailbox.state.mailbox("camille@exemple.fr") if "Jeudi" in m.subject]
    assert len(reminders) == 1
    reminder = reminders[0]
    assert mailbox.state.transmissions[reminder.message_id] == 1
    assert "Les députés votent jeudi" in reminder.text and "Les députés votent jeudi" in reminder.html
    assert reminder.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert reminder.headers["Content-Language"] == "fr"
    assert "Prénom" in reminder.text  # the targets assigned to them are named
    link = re.search(r"http://localhost(/c/\S+/r/\S+)", reminder.text)
    assert link
    phone = app.test_client()  # the e-mail opened on another device, which had seen the campaign before
    assert "subscribe" in phone.get(f"/c/{campaign.slug}").text
    response = phone.get(link.group(1))
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Reminder.opened_at)) is not None
    assigned = re.findall(r"- (Prénom\d+ Nom\d+)", reminder.text)
    page = phone.get(f"/c/{campaign.slug}").text
    assert f"{assigned[0]}<" in page  # the first assigned target, not the one shown before
    assert f"Personne 1 sur {len(assigned)} de notre e-mail" in page
    assert f'action="/c/{campaign.slug}/subscribe"' not in page  # they signed up already


def test_one_click_unsubscribe_stops_the_next_reminders(
    app: Flask, client: FlaskClient, campaign: Campaign, mailbox: SandboxServer
) -> None:
    subscribe(client, campaign, "dominique@exemple.fr")
    drain(app)
    client.get(confirm_link(mailbox, "dominique@exemple.fr"))
    open_wave_now(app, campaign)
    with app.app_context():
        queue_reminders(utcnow())
    drain(app)
    reminder = next(m for m in mailbox.state.mailbox("dominique@exemple.fr") if "Jeudi" in m.subject)
    unsubscribe = reminder.headers["List-Unsubscribe"].strip().strip("<>").removeprefix("http://localhost")
    # RFC 8058: the mail system POSTs this body, without our form's CSRF token
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "dominique@exemple.fr" in response.text
    assert client.get(unsubscribe).status_code == 200  # the page with its button
    assert client.post(unsubscribe.replace("/unsubscribe/", "/unsubscribe/x")).status_code == 404
    with app.app_context():
        subscription = db.session.scalars(select(Subscription)).one()
        assert subscription.state is SubscriptionState.UNSUBSCRIBED


def test_a_bounced_address_is_marked_and_never_written_to_again(
    app: Flask, client: FlaskClient, campaign: Campaign, mailbox: SandboxServer
) -> None:
    with app.app_context():
        db.session.add(
            Subscription(campaign_id=campaign.id, email="nobody@bounce.example", state=SubscriptionState.CONFIRMED)
        )
        db.session.commit()
    open_wave_now(app, campaign)
    with app.app_context():
        assert queue_reminders(utcnow()) == 1
    drain(app)
    with app.app_context():
        subscription = db.session.scalars(select(Subscription)).one()
        delivery = db.session.scalars(select(Delivery)).one()
        assert subscription.state is SubscriptionState.BOUNCED and "550" in subscription.bounce_reason
        assert delivery.state is DeliveryState.FAILED and delivery.error.startswith("bounced")
    assert mailbox.state.mailbox("nobody@bounce.example") == []


def test_a_paused_wave_holds_its_reminders_without_spending_attempts(
    app: Flask, client: FlaskClient, campaign: Campaign, mailbox: SandboxServer
) -> None:
    with app.app_context():
        db.session.add(Subscription(campaign_id=campaign.id, email="a@exemple.fr", state=SubscriptionState.CONFIRMED))
        db.session.commit()
    wave_id = open_wave_now(app, campaign)
    with app.app_context():
        queue_reminders(utcnow())
        pause_wave(db.session.get_one(Wave, wave_id), utcnow())
        db.session.commit()
    drain(app)
    with app.app_context():
        delivery = db.session.scalars(select(Delivery)).one()
        assert (delivery.state, delivery.attempts, delivery.error) == (DeliveryState.QUEUED, 0, "the wave is paused")
        resume_wave(db.session.get_one(Wave, wave_id), utcnow())
        db.session.commit()
    drain(app, utcnow() + timedelta(minutes=2))
    assert len(mailbox.state.mailbox("a@exemple.fr")) == 1


def test_asking_twice_sends_one_confirmation_and_a_bad_address_is_refused(
    app: Flask, client: FlaskClient, campaign: Campaign, mailbox: SandboxServer
) -> None:
    subscribe(client, campaign, "claude@exemple.fr")
    subscribe(client, campaign, "claude@exemple.fr")
    drain(app)
    assert len(mailbox.state.mailbox("claude@exemple.fr")) == 1
    response = client.post(f"/c/{campaign.slug}/subscribe", data={"email": "pas une adresse"})
    assert response.status_code == 400 and "Ce n’est pas une adresse e-mail" in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 1


def test_reminders_are_spread_by_the_hour_the_caps_can_take(app: Flask, campaign: Campaign) -> None:
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    wave = Wave(opens_at=now, closes_at=now + timedelta(hours=3), cap_per_hour=3, opened_at=now)
    # 7 targets x 3 per hour = 21 messages an hour = 7 reminders of 3 targets
    assert [reminder_slot(wave, seq, 7, now) - now for seq in (0, 6, 7, 13, 14, 40)] == [
        timedelta(0),
        timedelta(0),
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=2),  # never after the window's last hour
    ]
