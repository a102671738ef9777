"""Waves: the organiser's rules, the boundaries of a window on a frozen clock, what the supporter page
offers during a wave, and the organiser's pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from accounts.models import AuditEvent, Role
from campaign.actions import record_action
from campaign.fold import fold_tallies
from campaign.models import Campaign, CampaignStatus, Message, Wave, WaveStatus
from campaign.offer import wave_target_ids
from campaign.services import change_status, save_message
from channels import Network
from extensions import db
from recipients.models import Recipient, TargetRole
from tests.conftest import login
from waves.jobs import close_due_waves, open_due_waves, tick_waves
from waves.life import cancel_wave, pause_wave, resume_wave
from waves.services import WaveError, assigned_targets, schedule_wave

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday, 9:00 in Paris
OPENS = T0 + timedelta(hours=1)
CLOSES = T0 + timedelta(hours=3)


@pytest.fixture
def org(make_org: Callable[..., Any]) -> Any:
    return make_org()


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign], org: Any) -> Campaign:
    return make_campaign(org, targets=6)


def schedule(app: Flask, campaign_id: int, **overrides: Any) -> int:
    with app.app_context():
        campaign = db.session.get_one(Campaign, campaign_id)
        values: dict[str, Any] = {
            "title": "Mardi matin",
            "opens_at": OPENS,
            "closes_at": CLOSES,
            "message_ids": [m.id for m in campaign.messages],
            "networks": [Network.X, Network.BLUESKY, Network.MASTODON],
            "criteria": {},
            "reminder_text": "C'est le moment.",
            "now": T0,
        }
        values.update(overrides)
        wave = schedule_wave(campaign, **values)
        db.session.commit()
        return wave.id


def state(app: Flask, wave_id: int) -> WaveStatus:
    with app.app_context():
        return db.session.get_one(Wave, wave_id).status


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"closes_at": OPENS}, "must close after it opens"),
        ({"closes_at": OPENS - timedelta(minutes=5)}, "must close after it opens"),
        ({"opens_at": T0 - timedelta(hours=2), "closes_at": T0 + timedelta(hours=1)}, "in the past"),
        ({"cap_per_hour": 0}, "cap must be between 1"),
        ({"message_ids": []}, "at least one message"),
        ({"networks": []}, "at least one of the campaign's networks"),
        ({"criteria": {"department": "2A"}}, "No target of the campaign passes this filter"),
    ],
)
def test_a_wave_that_makes_no_sense_is_refused_with_a_reason(
    app: Flask, campaign: Campaign, overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(WaveError, match=words):
        schedule(app, campaign.id, **overrides)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Wave)) == 0


def test_overlapping_windows_are_refused_and_adjacent_ones_taken(app: Flask, campaign: Campaign) -> None:
    schedule(app, campaign.id)
    with pytest.raises(WaveError, match="overlaps the wave “Mardi matin”"):
        schedule(app, campaign.id, opens_at=CLOSES - timedelta(minutes=1), closes_at=CLOSES + timedelta(hours=1))
    schedule(app, campaign.id, title="Ensuite", opens_at=CLOSES, closes_at=CLOSES + timedelta(hours=1))


def test_an_ended_campaign_takes_no_wave(app: Flask, make_campaign: Callable[..., Campaign], org: Any) -> None:
    ended = make_campaign(org, targets=2, status=CampaignStatus.ENDED, slug="finie")
    with pytest.raises(WaveError, match="has ended"):
        schedule(app, ended.id)


def test_a_filter_chooses_the_wave_targets_in_a_stable_order(app: Flask, campaign: Campaign) -> None:
    wave_id = schedule(app, campaign.id, criteria={"group_name": "Groupe A", "role": TargetRole.DEPUTY.value})
    with app.app_context():
        ids = wave_target_ids(db.session.get_one(Wave, wave_id))
    assert len(ids) == 3 and ids == sorted(ids)  # deputies 1, 3 and 5 sit in Groupe A


def test_the_window_opens_and_closes_once_on_a_frozen_clock(app: Flask, campaign: Campaign) -> None:
    wave_id = schedule(app, campaign.id)
    with app.app_context():
        assert tick_waves(OPENS - timedelta(seconds=1)) == 0
    assert state(app, wave_id) is WaveStatus.SCHEDULED
    with app.app_context():
        assert open_due_waves(OPENS) == 1
        assert open_due_waves(OPENS) == 0  # a second scheduler, or the same one again: nothing happens
        assert tick_waves(CLOSES - timedelta(seconds=1)) == 0
    assert state(app, wave_id) is WaveStatus.OPEN
    with app.app_context():
        assert close_due_waves(CLOSES) == 1
        assert tick_waves(CLOSES + timedelta(minutes=1)) == 0
        wave = db.session.get_one(Wave, wave_id)
        assert (wave.status, wave.opened_at, wave.closed_at) == (WaveStatus.CLOSED, OPENS, CLOSES)


def test_a_wave_of_a_paused_campaign_waits_and_closes_unopened(app: Flask, campaign: Campaign) -> None:
    wave_id = schedule(app, campaign.id)
    with app.app_context():
        change_status(db.session.get_one(Campaign, campaign.id), CampaignStatus.PAUSED)
        db.session.commit()
        assert open_due_waves(OPENS) == 0
    assert state(app, wave_id) is WaveStatus.SCHEDULED
    with app.app_context():
        tick_waves(CLOSES)
        assert db.session.get_one(Wave, wave_id).opened_at is None
    assert state(app, wave_id) is WaveStatus.CLOSED


def test_pause_resume_and_cancel(app: Flask, campaign: Campaign) -> None:
    wave_id = schedule(app, campaign.id)
    with app.app_context():
        wave = db.session.get_one(Wave, wave_id)
        with pytest.raises(WaveError, match="Only an open wave"):
            pause_wave(wave, T0)
        open_due_waves(OPENS)
        pause_wave(wave, OPENS + timedelta(minutes=5))
        assert wave.status is WaveStatus.PAUSED
        assert open_due_waves(OPENS + timedelta(minutes=6)) == 0  # paused is not scheduled: it stays paused
        resume_wave(wave, OPENS + timedelta(minutes=10))
        assert wave.status is WaveStatus.OPEN
        cancel_wave(wave, OPENS + timedelta(minutes=20))
        assert wave.status is WaveStatus.CANCELLED
        with pytest.raises(WaveError, match="over already"):
            cancel_wave(wave, OPENS + timedelta(minutes=21))
        db.session.commit()


def test_resuming_after_the_window_closes_the_wave(app: Flask, campaign: Campaign) -> None:
    wave_id = schedule(app, campaign.id)
    with app.app_context():
        wave = db.session.get_one(Wave, wave_id)
        open_due_waves(OPENS)
        pause_wave(wave, OPENS)
        with pytest.raises(WaveError, match="ended while it was paused"):
            resume_wave(wave, CLOSES + timedelta(minutes=1))
        assert wave.status is WaveStatus.CLOSED


def test_assigned_targets_cover_every_target_evenly() -> None:
    targets = list(range(100, 107))  # seven targets, three per reminder
    counts = dict.fromkeys(targets, 0)
    for seq in range(70):
        chosen = assigned_targets(targets, seq)
        assert len(set(chosen)) == 3
        for rid in chosen:
            counts[rid] += 1
    assert max(counts.values()) - min(counts.values()) <= 1


def _open_now(app: Flask, campaign_id: int, **overrides: Any) -> int:
    """A wave open right now on the real clock (pages read the real clock)."""
    now = datetime.now(UTC)
    wave_id = schedule(app, campaign_id, opens_at=now, closes_at=now + timedelta(hours=2), now=now, **overrides)
    with app.app_context():
        assert open_due_waves(now + timedelta(seconds=1)) == 1
    return wave_id


def test_while_a_wave_is_open_the_page_offers_its_targets_and_messages_only(
    app: Flask, client: FlaskClient, campaign: Campaign
) -> None:
    with app.app_context():
        db_campaign = db.session.get_one(Campaign, campaign.id)
        extra = save_message(db_campaign, None, label="Vague", bodies=["Pendant la vague, {name} : {link}"])
        db.session.commit()
        extra_id = extra.id
    _open_now(app, campaign.id, criteria={"group_name": "Groupe B"}, message_ids=[extra_id])
    seen = set()
    for _ in range(3):  # the wave's three targets, one after the other
        page = client.get(f"/c/{campaign.slug}").text
        assert "Mardi matin" in page
        assert "Pendant la vague" in page and ", lisez" not in page
        seen |= {n for n in (2, 4, 6) if f"Prénom{n} Nom{n}<" in page}
        assert not any(f"Prénom{n} Nom{n}<" in page for n in (1, 3, 5))
        client.get(f"/c/{campaign.slug}/another")
    assert seen == {2, 4, 6}


def test_a_target_at_its_cap_is_not_offered(app: Flask, client: FlaskClient, campaign: Campaign) -> None:
    wave_id = _open_now(app, campaign.id, criteria={"group_name": "Groupe B"}, cap_per_hour=2)
    with app.app_context():
        db_campaign = db.session.get_one(Campaign, campaign.id)
        capped_id, *others = wave_target_ids(db.session.get_one(Wave, wave_id))
        for _ in range(2):  # two messages this hour, whatever the campaign: the cap is reached
            record_action(
                db_campaign, recipient_id=capped_id, variant_id=None, network=Network.X, visitor_id="v", text="t"
            )
        db.session.commit()
        fold_tallies()  # the cap reads the folded per-minute counts
        names = {rid: db.session.get_one(Recipient, rid).name for rid in (capped_id, *others)}
    offered = set()
    for _ in range(3):
        page = client.get(f"/c/{campaign.slug}").text
        offered |= {rid for rid, name in names.items() if f"{name}<" in page}
        client.get(f"/c/{campaign.slug}/another")
    assert offered == set(others)


def test_the_organiser_schedules_pauses_and_follows_a_wave(
    app: Flask, client: FlaskClient, campaign: Campaign, org: Any, make_user: Callable[..., Any]
) -> None:
    login(client, make_user(org, Role.ORGANISER))
    with app.app_context():
        message_ids = [str(m.id) for m in db.session.scalars(select(Message).where(Message.campaign_id == campaign.id))]
    base = f"/admin/campaigns/{campaign.id}/waves"
    form = {
        "title": "Avant le vote",
        "opens_at": "2020-01-01T09:00",
        "closes_at": "2020-01-01T11:00",
        "messages": message_ids,
        "networks": ["bluesky", "mastodon"],
        "cap_per_hour": "0",
        "reminder_text": "On y va.",
    }
    page = client.post(f"{base}/new", data=form)
    assert page.status_code == 200 and "Between 1 and 1000." in page.text
    page = client.post(f"{base}/new", data={**form, "cap_per_hour": "30"})
    assert "starts in the past" in page.text
    now = datetime.now(UTC) + timedelta(minutes=2)
    local = now.astimezone(ZoneInfo("Europe/Paris"))
    opens, closes = local.strftime("%Y-%m-%dT%H:%M"), (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"{base}/new", data={**form, "cap_per_hour": "30", "opens_at": opens, "closes_at": closes})
    assert response.status_code == 302
    index = client.get(base).text
    assert "Avant le vote" in index and "timeline-wave status-scheduled" in index
    with app.app_context():
        wave = db.session.scalars(select(Wave)).one()
        assert abs((wave.opens_at - now).total_seconds()) < 60  # typed on the Paris clock, stored in UTC
        open_due_waves(wave.opens_at)
        wave_id = wave.id
    assert client.post(f"{base}/{wave_id}/pause").status_code == 302
    assert state(app, wave_id) is WaveStatus.PAUSED
    live = client.get(f"{base}/{wave_id}").text
    assert "reminders sent" in live and "Prénom1 Nom1" in live and 'http-equiv="refresh"' in live
    data = client.get(f"{base}/{wave_id}.json").get_json()
    assert data["status"] == "paused" and len(data["targets"]) == 6
    assert client.post(f"{base}/{wave_id}/resume").status_code == 302
    assert client.post(f"{base}/{wave_id}/cancel").status_code == 302
    assert state(app, wave_id) is WaveStatus.CANCELLED
    assert "over already" in client.post(f"{base}/{wave_id}/cancel", follow_redirects=True).text
    with app.app_context():  # each step is in the audit log, once
        logged = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert logged == ["wave.scheduled", "wave.paused", "wave.resumed", "wave.cancelled"]


def test_a_reader_cannot_move_a_wave(
    app: Flask, client: FlaskClient, campaign: Campaign, org: Any, make_user: Callable[..., Any]
) -> None:
    wave_id = schedule(
        app,
        campaign.id,
        opens_at=datetime.now(UTC) + timedelta(hours=1),
        closes_at=datetime.now(UTC) + timedelta(hours=2),
        now=datetime.now(UTC),
    )
    login(client, make_user(org, Role.ANALYST))
    assert client.post(f"/admin/campaigns/{campaign.id}/waves/{wave_id}/cancel").status_code == 403
    assert client.get(f"/admin/campaigns/{campaign.id}/waves/{wave_id}").status_code == 200
    assert state(app, wave_id) is WaveStatus.SCHEDULED
