"""Distributed mode, for real: PostgreSQL, Redis, two Celery worker processes, the sandbox with faults on,
and one worker killed with SIGKILL halfway. Every delivery ends posted or failed with a reason; the
sandbox holds each post once, and the mailbox each reminder once.

The test process plays the scheduler (the same job functions `flask scheduler run` ticks), so that it
can release the wave's pledges at once instead of over a real window.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import requests
from flask import Flask
from sqlalchemy import func, insert, select, update

from app import create_app
from campaign.models import Campaign
from campaign.offer import wave_target_ids
from channels import Network
from channels.errors import ErrorKind
from database import utcnow
from extensions import db
from scheduler import outbox
from scheduler.celery import CeleryDispatcher
from scheduler.models import Delivery, DeliveryState
from supporters import services
from supporters.rehearsal import connect_sandbox_account
from tests.conftest import TEST_TOKEN_KEY, recipient
from waves.jobs import REMINDER, open_due_waves, queue_reminders
from waves.models import Pledge, Subscription, SubscriptionState
from waves.pledges import PLEDGE, make_pledge, release_due_pledges
from waves.services import schedule_wave

pytestmark = [pytest.mark.distributed, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parent.parent
# The smallest wave that shows every fault, the kill and exactly-once; the drain at scale is bench/wave.py's.
TARGETS = 10
ACCOUNTS = 20  # half Bluesky, half Mastodon
PLEDGES_PER_ACCOUNT = 6  # 120 pledged posts
REMINDERS = 600
WORDS = "emploi quartier école santé logement transport climat culture sport jeunesse commerce".split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The sandbox networks and SMTP sink in a process of their own (`flask sandbox serve`), as the
    networks would be: their threads do not share the test's interpreter lock.
    """
    port, smtp_port = free_port(), free_port()
    command = [sys.executable, "-m", "flask", "--app", "app", "sandbox", "serve", "--port", str(port)]
    command += ["--smtp-port", str(smtp_port)]
    with (tmp_path / "sandbox.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{url}/__sandbox__/config", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield url, smtp_port
        process.terminate()
        process.wait(timeout=10)


def knobs(url: str, **values: Any) -> None:
    requests.post(f"{url}/__sandbox__/config", json=values, timeout=5).raise_for_status()


@pytest.fixture
def settings(postgres_url: str, redis_url: str, sandbox_process: tuple[str, int], tmp_path: Path) -> dict[str, str]:
    sandbox_url, smtp_port = sandbox_process
    return {
        "DATABASE_URL": postgres_url,
        "DISPATCH": "celery",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_QUEUE": f"porte-voix-test-{uuid.uuid4().hex[:8]}",
        "SANDBOX_URL": sandbox_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SECRET_KEY": "test-secret",
        "TOKEN_KEYS": TEST_TOKEN_KEY,
        "NETWORK_TIMEOUT": "1.0",
        "OUTBOX_BACKOFF_SECONDS": "0.3",
        "OUTBOX_STALE_SECONDS": "4",
        "OUTBOX_REDISPATCH_SECONDS": "15",
        "PUBLIC_URL": "http://127.0.0.1:5000",
        "INSTANCE_PATH": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def app(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True, "BABEL_DEFAULT_LOCALE": "en"})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def start_worker(settings: dict[str, str], name: str, log: BinaryIO) -> subprocess.Popen[bytes]:
    """A Celery worker process: 6 threads (on two cores, more threads only queue for the GIL)."""
    env = {**os.environ, **settings}
    command = [sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--pool", "threads"]
    command += ["--concurrency", "6", "-Q", settings["CELERY_QUEUE"], "-n", f"{name}@%h", "--loglevel", "WARNING"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def seed(app: Flask, sandbox_url: str) -> int:
    """A live campaign, a wave over TARGETS targets, pledges from ACCOUNTS accounts, REMINDERS subscribers."""
    rng = random.Random(7)  # noqa: S311
    with app.app_context():
        from accounts.models import Organisation
        from campaign.models import CampaignStatus
        from campaign.services import change_status, save_campaign, save_message

        organisation = Organisation(name="Collectif")
        db.session.add(organisation)
        db.session.flush()
        db.session.add_all(recipient(organisation.id, n) for n in range(1, TARGETS + 1))
        db.session.flush()
        campaign = save_campaign(
            Campaign(organisation_id=organisation.id),
            title="Vague",
            cause="Cause.",
            language="fr",
            target_criteria={"roles": ["deputy"]},
        )
        save_message(
            campaign,
            None,
            label="Principal",
            bodies=["{handle} lisez le Livre blanc"],
            email_subject="Le Livre blanc",
            email_body="{salutation}, lisez le Livre blanc.",
        )
        change_status(campaign, CampaignStatus.LIVE)
        now = utcnow()
        wave = schedule_wave(
            campaign,
            title="Maintenant",
            opens_at=now,
            closes_at=now + timedelta(hours=1),
            message_ids=[m.id for m in campaign.messages],
            networks=[Network.BLUESKY, Network.MASTODON],
            criteria={},
            cap_per_hour=1000,
            reminder_text="C'est maintenant.",
            now=now,
        )
        db.session.commit()
        accounts = []
        for n in range(ACCOUNTS):
            network = Network.BLUESKY if n % 2 else Network.MASTODON
            supporter = services.get_or_create_supporter(None, language="fr")
            accounts.append(connect_sandbox_account(supporter, network, f"soutien{n}"))
        db.session.commit()
        knobs(sandbox_url, bluesky_existing_domains=["bsky.social"])  # the targets' handles (after connecting)
        targets = wave_target_ids(wave)
        for n, account in enumerate(accounts):
            for k in range(PLEDGES_PER_ACCOUNT):
                rid = targets[(n + k * 3) % TARGETS]
                mention = (
                    f"@depute{rid}.bsky.social" if account.network is Network.BLUESKY else f"@depute{rid}@piaille.fr"
                )
                words = " ".join(rng.sample(WORDS, 5))
                text = f"{mention} voix {n}-{k} : {words} {uuid.uuid4().hex[:10]}"
                make_pledge(wave, account, recipient_id=rid, variant_id=None, text=text, now=now)
            db.session.commit()
        db.session.execute(
            insert(Subscription),
            [
                {
                    "campaign_id": campaign.id,
                    "email": f"personne{n}@exemple.fr",
                    "language": "fr" if n % 3 else "en",
                    "state": SubscriptionState.CONFIRMED,
                    "created_at": now,
                }
                for n in range(REMINDERS)
            ],
        )
        db.session.commit()
        return wave.id


def finished(app: Flask) -> tuple[int, int]:
    with app.app_context():
        counts = dict(db.session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).tuples().all())
        db.session.remove()
    pending = counts.get(DeliveryState.QUEUED, 0) + counts.get(DeliveryState.SENDING, 0)
    return sum(counts.values()) - pending, pending


def tick(app: Flask, dispatcher: CeleryDispatcher) -> None:
    """One scheduler tick: the jobs `flask scheduler run` ticks, in the order it registers them."""
    with app.app_context():
        now = utcnow()
        outbox.sweep(now)
        db.session.commit()
        queue_reminders(now)
        release_due_pledges(now)
        dispatcher.drain_due(now)
        db.session.remove()


def test_a_wave_in_distributed_mode_survives_faults_and_a_killed_worker(
    app: Flask, settings: dict[str, str], tmp_path: Path
) -> None:
    sandbox_url = settings["SANDBOX_URL"]
    wave_id = seed(app, sandbox_url)
    knobs(sandbox_url, error_rate=0.10, timeout_rate=0.02, timeout_seconds=1.3, burst_429=40, burst_reset_seconds=2)
    logs_out = [(tmp_path / f"worker{n}.log").open("wb") for n in (1, 2)]
    workers = [start_worker(settings, f"w{n}", log) for n, log in zip((1, 2), logs_out, strict=True)]
    dispatcher = CeleryDispatcher(app)
    killed = False
    try:
        with app.app_context():
            assert open_due_waves(utcnow()) == 1
            # the window's hour, compressed: every pledge's moment has come
            db.session.execute(update(Pledge).values(release_at=utcnow()))
            db.session.commit()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tick(app, dispatcher)
            done, pending = finished(app)
            if not killed and done >= (REMINDERS + ACCOUNTS * PLEDGES_PER_ACCOUNT) // 2:
                workers[0].send_signal(signal.SIGKILL)  # mid-flight: its claimed rows and prefetched messages are lost
                workers[0].wait(timeout=10)
                knobs(sandbox_url, burst_429=40)  # and a second burst while the other worker catches up
                killed = True
            if killed and pending == 0 and done >= REMINDERS + ACCOUNTS * PLEDGES_PER_ACCOUNT:
                break
            time.sleep(0.5)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        for log in logs_out:
            log.close()
    logs = "\n".join((tmp_path / f"worker{n}.log").read_text(errors="replace")[-2000:] for n in (1, 2))
    assert killed, logs
    with app.app_context():
        deliveries = db.session.scalars(select(Delivery)).all()
        assert len(deliveries) == REMINDERS + ACCOUNTS * PLEDGES_PER_ACCOUNT
        unfinished = [d.id for d in deliveries if d.state not in (DeliveryState.POSTED, DeliveryState.FAILED)]
        assert unfinished == [], logs
        assert all(d.error for d in deliveries if d.state is DeliveryState.FAILED)
        posted_texts = Counter(d.text for d in deliveries if d.kind == PLEDGE and d.state is DeliveryState.POSTED)
        reminder_keys = {
            d.idempotency_key for d in deliveries if d.kind == REMINDER and d.state is DeliveryState.POSTED
        }
        retried = sum(1 for d in deliveries if d.attempts > 1)
        failed = [d.error for d in deliveries if d.state is DeliveryState.FAILED]
        # a post whose every try, the checking one too, went unanswered may be on its network: it says so
        perhaps = Counter(
            d.text for d in deliveries if d.state is DeliveryState.FAILED and d.error_kind == ErrorKind.UNCONFIRMED
        )
        by_text = {d.text: f"{d.state.value} after {d.attempts} tries: {d.error_kind} {d.error}" for d in deliveries}
        assert wave_id
    # each pledged post reached its network once (Mastodon's idempotency key, our Bluesky record key)
    posts = requests.get(f"{sandbox_url}/__sandbox__/posts", timeout=30).json()
    on_networks = Counter(p["text"] for p in posts if not p["deleted"])
    astray = (on_networks - posted_texts - perhaps) + (posted_texts - on_networks)
    assert not astray, {text: by_text.get(text, "no delivery") for text in astray}
    assert all(count == 1 for count in on_networks.values())
    assert len(posted_texts) >= ACCOUNTS * PLEDGES_PER_ACCOUNT - len(failed)
    # each reminder is in the mailbox once; a copy that crossed the wire twice (its answer lost) is one Message-ID
    mails = requests.get(f"{sandbox_url}/__sandbox__/mail?brief=1", timeout=60).json()
    mailbox = Counter(mail["message_id"] for mail in mails)
    assert all(count == 1 for count in mailbox.values())
    assert {key.split("@")[0].strip("<") for key in mailbox if key.startswith("<reminder-")} == reminder_keys
    duplicates = sum(mail["transmissions"] - 1 for mail in mails)
    assert duplicates <= retried  # only a retry after a lost answer sends a copy again
    print(f"\n{len(posted_texts)} posts, {len(reminder_keys)} reminders, {len(failed)} failed, {retried} retried")
