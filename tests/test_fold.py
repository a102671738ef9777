"""The hot path: a click appends one row, the tallies are folded from appended rows (exact, idempotent,
one folder at a time), the page reads a snapshot rebuilt only when the campaign changes, and the choice
of target is a function of explicit arguments."""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from accounts.models import Role
from campaign.actions import record_action, total_actions
from campaign.appended import TargetMinute, VisitEvent, recent_counts
from campaign.choice import Miss, choose_target, rotate
from campaign.clicks import SharedClicks
from campaign.fold import fold_tallies, freshness
from campaign.models import Action, Campaign, CampaignTarget, Variant
from campaign.services import save_message
from campaign.snapshot import PageCache, page_cache
from campaign.tallies import (
    ActionTally,
    Confirmed,
    SupporterDay,
    SupporterTally,
    TallyMark,
    TargetTally,
    count_confirmed_many,
    folded_upto,
    rebuild,
)
from channels import Network
from extensions import db
from recipients.models import Recipient
from tests.conftest import fold, login, statements
from tests.test_analytics import add_wave

SEND = re.compile(r'href="(/c/[^"]+/send/x/[^"]+)"')
TALLIES = (ActionTally, TargetTally, SupporterTally, SupporterDay)
DAY = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _tallies() -> dict[str, list[tuple[Any, ...]]]:
    return {
        model.__name__: sorted(
            tuple(getattr(row, c.key) for c in model.__table__.columns) for row in db.session.scalars(select(model))
        )
        for model in TALLIES
    }


def _counts() -> dict[int, tuple[int, int | None]]:
    return {t.recipient_id: (t.action_count, t.last_variant_id) for t in db.session.scalars(select(CampaignTarget))}


def _history(campaign_id: int, wave_id: int | None) -> int:
    """Forty actions by seven supporters over three days and two networks, some during a wave."""
    rng = random.Random(13)
    campaign = db.session.get_one(Campaign, campaign_id)
    targets = list(db.session.scalars(select(CampaignTarget.recipient_id).order_by(CampaignTarget.recipient_id)))
    variants = list(db.session.scalars(select(Variant.id).order_by(Variant.id)))
    for n in range(40):
        record_action(
            campaign,
            recipient_id=rng.choice(targets),
            variant_id=rng.choice(variants),
            network=rng.choice([Network.X, Network.BLUESKY]),
            visitor_id=f"visitor{rng.randrange(7):09d}",
            text="t",
            wave_id=wave_id if n % 3 == 0 else None,
            now=DAY + timedelta(hours=n * 2),  # in order, as ids are
        )
    db.session.commit()
    return 40


# 1. The fold -------------------------------------------------------------------------------------


@pytest.fixture
def history(app: Flask, make_org: Any, make_campaign: Any) -> tuple[Campaign, int]:
    """A campaign of four targets with a wave, and the number of actions of its history (none folded)."""
    campaign = make_campaign(make_org(), targets=4)
    with app.app_context():
        wave_id = add_wave(campaign.id, "Mardi", timedelta(minutes=1))
        return campaign, _history(campaign.id, wave_id)


def test_the_fold_is_exact_in_any_batch_size_and_agrees_with_a_rebuild(
    app: Flask, history: tuple[Campaign, int]
) -> None:
    campaign, made = history
    with app.app_context():
        assert _tallies()["ActionTally"] == [] and folded_upto() == 0  # a click counted nothing yet
        assert total_actions(db.session.get_one(Campaign, campaign.id)) == made  # the thanks page's total: live
        assert fold_tallies(batch=7) == made  # batches that cut one supporter's actions apart
        folded, counts = _tallies(), _counts()
        assert fold_tallies() == 0  # again: nothing new, nothing added
        assert _tallies() == folded and _counts() == counts
        rebuild(campaign.id)
        db.session.commit()
        assert _tallies() == folded
        assert sum(row[-2] for row in folded["ActionTally"]) == made
        assert sum(count for count, _variant in counts.values()) == made
        for rid, (count, last_variant) in counts.items():  # the rotation carries each target's latest variant
            sent = db.session.scalars(select(Action).where(Action.recipient_id == rid).order_by(Action.id)).all()
            assert count == len(sent) and last_variant == (sent[-1].variant_id if sent else None)


def test_the_fold_matches_one_at_a_time_counting(app: Flask, make_org: Any, make_campaign: Any) -> None:
    """Folded in one batch or one action per batch, the same figures: the supporter rows carry over."""
    campaign = make_campaign(make_org(), targets=3)
    with app.app_context():
        _history(campaign.id, None)
        fold_tallies(batch=1)
        one_by_one = _tallies()
        rebuild(campaign.id)
        db.session.commit()
        assert _tallies() == one_by_one


def test_an_action_made_after_the_fold_began_waits_for_the_next(app: Flask, make_org: Any, make_campaign: Any) -> None:
    campaign = make_campaign(make_org(), targets=2)
    with app.app_context():
        c = db.session.get_one(Campaign, campaign.id)
        target = db.session.scalars(select(CampaignTarget.recipient_id)).first()
        record_action(c, recipient_id=target, variant_id=None, network=Network.X, visitor_id="a" * 16, text="t")
        db.session.commit()
        assert fold_tallies() == 1
        record_action(c, recipient_id=target, variant_id=None, network=Network.X, visitor_id="b" * 16, text="t")
        db.session.commit()
        assert freshness(datetime.now(UTC)).waiting == 1
        assert fold_tallies() == 1
        assert db.session.get_one(CampaignTarget, (campaign.id, target)).action_count == 2
        assert freshness(datetime.now(UTC)).waiting == 0


@pytest.mark.parametrize("database_uri", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_folders_at_once_count_each_action_once(
    app: Flask, make_org: Any, make_campaign: Any, database_uri: str
) -> None:
    """Two processes' jobs folding at the same moment, while clicks keep arriving: every action once."""
    campaign = make_campaign(make_org(), targets=3)
    with app.app_context():
        targets = list(db.session.scalars(select(CampaignTarget.recipient_id)))
    stop = threading.Event()
    errors: list[BaseException] = []

    def clicks() -> None:
        with app.app_context():
            c = db.session.get_one(Campaign, campaign.id)
            for n in range(60):
                record_action(
                    c, recipient_id=targets[n % 3], variant_id=None, network=Network.X, visitor_id=f"{n:016d}", text="t"
                )
                db.session.commit()
        stop.set()

    def folder() -> None:
        try:
            with app.app_context():
                while not stop.is_set():
                    fold_tallies()
                fold_tallies()
        except BaseException as error:  # noqa: BLE001 (reported by the test below)
            errors.append(error)

    threads = [threading.Thread(target=clicks), threading.Thread(target=folder), threading.Thread(target=folder)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with app.app_context():
        fold_tallies()
        assert sum(count for count, _ in _counts().values()) == 60
        assert db.session.scalar(select(func.sum(ActionTally.actions))) == 60
        assert db.session.scalar(select(func.sum(TargetMinute.actions))) == 60
        assert db.session.scalar(select(func.count()).select_from(SupporterTally)) == 60


def test_the_hourly_cap_reads_the_folded_minutes_and_forgets_after_two_hours(
    app: Flask, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=2)
    now = datetime.now(UTC)
    with app.app_context():
        c = db.session.get_one(Campaign, campaign.id)
        first, second = db.session.scalars(select(CampaignTarget.recipient_id).order_by(CampaignTarget.recipient_id))
        for minutes, target in ((1, first), (2, first), (30, second), (70, first)):
            record_action(
                c,
                recipient_id=target,
                variant_id=None,
                network=Network.X,
                visitor_id="v" * 16,
                text="t",
                now=now - timedelta(minutes=minutes),
            )
        db.session.commit()
        assert recent_counts([first, second], now) == {}  # not folded yet
        fold_tallies(now)
        assert recent_counts([first, second], now) == {first: 2, second: 1}  # 70 minutes ago is out
        fold_tallies(now + timedelta(hours=3))
        assert db.session.scalar(select(func.count()).select_from(TargetMinute)) == 0


# 2. A click, a visit -----------------------------------------------------------------------------


def _writes(sent: list[str]) -> list[str]:
    """The statements that write, as "VERB table"."""
    written = []
    for statement in sent:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in {"INSERT", "UPDATE", "DELETE"}:
            table = re.search(r"(?:INTO|UPDATE|FROM)\s+\"?(\w+)", statement, re.IGNORECASE)
            written.append(f"{verb} {table.group(1) if table else '?'}")
    return written


def test_a_click_appends_one_row_and_a_page_view_one_event(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=3, networks=["x"])
    with statements(app) as sent:
        page = client.get(f"/c/{campaign.slug}").text
    assert _writes(sent) == ["INSERT visit_event"]  # a new visit with a target shown: one appended row
    link = SEND.search(page)
    assert link
    with statements(app) as sent:
        assert client.get(link.group(1)).status_code == 303
    assert _writes(sent) == ["INSERT action"]  # nothing shared with another click: no update, no upsert
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(VisitEvent)) == 1
        fold_tallies()
        assert db.session.scalar(select(func.count()).select_from(VisitEvent)) == 0  # a queue: folded, deleted
        assert db.session.scalar(select(func.sum(ActionTally.actions))) == 1
    assert "1 message envoyé" in client.get(f"/c/{campaign.slug}/thanks").text


def test_the_dashboard_says_how_fresh_its_figures_are(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any, make_user: Any
) -> None:
    organisation = make_org()
    campaign = make_campaign(organisation, targets=2)
    login(client, make_user(organisation, Role.ANALYST))
    base = f"/admin/campaigns/{campaign.id}/analytics"
    assert "the job that counts them has never run" in client.get(base).text
    with app.app_context():
        c = db.session.get_one(Campaign, campaign.id)
        target = db.session.scalars(select(CampaignTarget.recipient_id)).first()
        fold_tallies()
        record_action(c, recipient_id=target, variant_id=None, network=Network.X, visitor_id="a" * 16, text="t")
        db.session.commit()
    page = client.get(base).text
    counted = r"Figures counted (just now|\d+ seconds? ago)\."
    assert re.search(counted + r" 1 newer message joins them at the next count\.", page)
    with app.app_context():
        db.session.get_one(TallyMark, "actions").folded_at = datetime.now(UTC) - timedelta(minutes=5)
        db.session.commit()
    page = client.get(base).text
    assert "These figures were counted 300 seconds ago" in page and "1 message waits to be counted" in page
    fold(app)
    assert "newer message" not in client.get(base).text
    assert "Figures counted" in client.get("/admin/analytics").text


# 3. The snapshot ---------------------------------------------------------------------------------


def test_the_page_is_built_once_per_change_of_the_campaign(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=3, variants=["Premier texte {name} {link}"])
    cache = page_cache(app)
    cache.clear()
    for _ in range(3):
        assert "Premier texte" in client.get(f"/c/{campaign.slug}").text
        client.get(f"/c/{campaign.slug}/another")
    assert cache.builds == 1  # three visits, one build
    with app.app_context():
        c = db.session.get_one(Campaign, campaign.id)
        version = c.version
        save_message(c, c.messages[0], label="Principal", bodies=["Nouveau texte {name} {link}"])
        db.session.commit()
        assert db.session.get_one(Campaign, campaign.id).version > version
    visitor = app.test_client()  # the first visitor has skipped every target by now
    assert "Nouveau texte" in visitor.get(f"/c/{campaign.slug}").text and cache.builds == 2
    with app.app_context():
        shown = db.session.scalars(select(Recipient).order_by(Recipient.id)).all()
        for target in shown:
            target.handle_x = f"nouveau_{target.id}"  # an import corrects every handle
        db.session.commit()
    page = app.test_client().get(f"/c/{campaign.slug}").text
    assert cache.builds == 3 and "nouveau_" in page
    with app.app_context():
        add_wave(campaign.id, "Jeudi", timedelta(hours=1))  # a wave scheduled: the page announces it
    client.get(f"/c/{campaign.slug}")
    assert cache.builds == 4


def test_a_folded_click_does_not_rebuild_the_page(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=3, networks=["x"])
    cache = page_cache(app)
    cache.clear()
    link = SEND.search(client.get(f"/c/{campaign.slug}").text)
    assert link and client.get(link.group(1)).status_code == 303
    fold(app)  # moves every target's count and rotation: the snapshot does not depend on them
    client.get(f"/c/{campaign.slug}")
    assert cache.builds == 1


# 4. The choice, without a request ----------------------------------------------------------------


def test_the_least_contacted_target_is_chosen_and_ties_spread() -> None:
    counts = {1: 2, 2: 1, 3: 0, 4: 0}
    picks = Counter(
        choose_target(targets=[1, 2, 3, 4], counts=counts, rng=random.Random(seed)).target_id for seed in range(200)
    )
    assert set(picks) == {3, 4} and min(picks.values()) > 60
    assert choose_target(targets=[1, 2, 3, 4], counts=counts, seen=[3, 4]).target_id == 2
    assert choose_target(targets=[1, 2], counts=counts, seen=[1, 2]).target_id is None


def test_the_postcode_leads_to_the_deputy_within_the_wave() -> None:
    counts = {1: 0, 2: 5, 3: 9}
    assert choose_target(targets=[1, 2, 3], counts=counts, deputies=[3]) == choose_target(
        targets=[1, 2, 3], counts={}, deputies=[3]
    )
    assert choose_target(targets=[1, 2, 3], counts=counts, deputies=[3]).target_id == 3
    outside = choose_target(targets=[1, 2, 3], counts=counts, deputies=[3], wave_targets=[1, 2])
    assert (outside.target_id, outside.miss, outside.mine) == (1, Miss.OUTSIDE_WAVE, 3)
    unknown = choose_target(targets=[1, 2, 3], counts=counts, deputies=[])
    assert (unknown.target_id, unknown.miss) == (1, Miss.NOT_A_TARGET)


def test_a_reminder_target_comes_before_the_wave_and_the_cap_keeps_others_out() -> None:
    counts = {1: 0, 2: 0, 3: 0}
    assert choose_target(targets=[1, 2, 3], counts=counts, wave_targets=[2, 3], preferred=3).target_id == 3
    for seed in range(30):
        rng = random.Random(seed)
        chosen = choose_target(targets=[1, 2, 3], counts=counts, wave_targets=[2, 3], capped=[2], rng=rng)
        assert chosen.target_id == 3
    assert choose_target(targets=[1, 2, 3], counts=counts, wave_targets=[2, 3], capped=[2, 3]).target_id is None
    # the target on show stays until written to or skipped, unless the wave's cap took it
    assert choose_target(targets=[1, 2, 3], counts={2: 9}, current=2).target_id == 2
    assert choose_target(targets=[1, 2, 3], counts={2: 9}, current=2, wave_targets=[2, 3], capped=[2]).target_id == 3
    assert choose_target(targets=[1, 2, 3], counts={1: 0, 2: 9, 3: 9}, current=2, seen=[2]).target_id == 1


def test_variants_rotate_per_target() -> None:
    class V:
        def __init__(self, id: int) -> None:  # noqa: A002 (the protocol's name)
            self.id = id

    variants = [V(10), V(11), V(12)]
    assert rotate(variants, 7, None) is variants[7 % 3]
    assert rotate(variants, 7, 11) is variants[2] and rotate(variants, 7, 12) is variants[0]
    assert rotate([], 7, None) is None


def test_within_its_max_age_a_process_reads_no_campaign_row(
    app: Flask, client: FlaskClient, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=3)
    app.config["PAGE_VERSION_MAX_AGE"] = 60.0
    page_cache(app).clear()
    assert client.get(f"/c/{campaign.slug}").status_code == 200
    with statements(app) as sent:
        assert app.test_client().get(f"/c/{campaign.slug}").status_code == 200
    assert not [sql for sql in sent if re.search(r"\bFROM campaign\b", sql)]  # version, snapshot, counts: memory


def test_the_throttles_count_without_starting_a_thread_per_hit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """limits' memory storage starts a timer thread on a hit whenever its last one has ended: under load,
    one every few requests. The embedded mode's storage sweeps from one thread instead, and still counts."""
    from security import allow

    app.config["RATELIMIT_ENABLED"] = True
    started: list[str] = []
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    with app.test_request_context("/"):
        assert allow("warm", "5 per minute", "a")  # the storage exists (and its sweeper runs)
        monkeypatch.setattr(threading.Thread, "start", start)
        results = []
        for _ in range(40):
            results.append(allow("hot", "30 per minute", "b"))
            time.sleep(0.0005)
    assert results.count(True) == 30 and started == []


# 5. Two web nodes share the clicks not folded yet (distributed mode) -----------------------------


def test_web_nodes_see_each_others_clicks_before_the_fold(
    app: Flask, redis_url: str, make_org: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(make_org(), targets=3, networks=["x"])
    prefix = f"pv-test-{uuid.uuid4().hex[:8]}"
    first, second = (PageCache(SharedClicks(redis_url, prefix=prefix)) for _ in range(2))
    with app.app_context():
        before = first.counts(campaign.id).counts
        second.counts(campaign.id)  # each node has read the folded counts
        for _ in range(2):
            second.add_click(campaign.id, 2, None)
        assert first.counts(campaign.id).counts[2] == before[2] + 2  # seen at once on the other node
        assert first.counts(campaign.id).counts[1] == before[1]
        # Redis gone: a node counts its own clicks, and the page goes on.
        alone = PageCache(SharedClicks("redis://127.0.0.1:1/0", prefix=prefix))
        assert alone.counts(campaign.id).counts[2] == before[2]
        alone.add_click(campaign.id, 3, None)
        assert alone.counts(campaign.id).counts[3] == before[3] + 1


def test_a_batch_of_confirmed_posts_writes_each_tally_once_and_agrees_with_a_rebuild(
    app: Flask, history: tuple[Campaign, int]
) -> None:
    campaign, _made = history
    with app.app_context():
        fold_tallies()
        found = db.session.scalars(select(Action).order_by(Action.id).limit(6)).all()
        for action in found:
            action.confirmed_at = action.created_at  # as confirm_link_posts does when it finds the posts
        db.session.flush()
        with statements(app) as sent:
            count_confirmed_many([Confirmed(action) for action in found])
            db.session.flush()
        written = [w for w in _writes(sent) if "tally" in w]
        assert sorted(written) == ["INSERT action_tally", "INSERT target_tally"]  # one statement each, any size
        db.session.commit()
        counted = _tallies()
        rebuild(campaign.id)
        db.session.commit()
        assert _tallies() == counted
