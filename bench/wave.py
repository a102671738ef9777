"""Wave drain: R reminders and P pledged posts released when a wave opens, embedded and distributed.

    .venv/bin/python bench/wave.py [--reminders 100000] [--pledges 10000] [--latency-ms 50]
                                   [--threads 32] [--modes embedded,distributed] [--runs 3]

The sandbox networks and its SMTP sink run in a process of their own, every call answered after
`--latency-ms`. Embedded: SQLite, a `ThreadDispatcher` of `--threads` threads in this process.
Distributed: PostgreSQL, two Celery worker processes of `--threads / 2` threads each, this process
ticking as the scheduler. For each mode it prints:
- the time to queue (open the wave, release the pledges, queue the reminders);
- the drain time against the ideal bound: every network call waits one latency (an e-mail one, a
  Mastodon post one, a Bluesky post two: the mention's handle is resolved first), spread over the
  concurrency; no account meets its network's limit (100 accounts, 100 posts each), so the limits do
  not bind;
- the same calls made bare, in the same run: `--threads` threads sending the same number of e-mails
  with plain `smtplib` (one kept connection a thread) to the same sink, and making the pledges' calls
  with plain `requests` to the same sandbox, with the same accounts' tokens: no database, no outbox;
  the ratio of the bare time to ours is what the product costs over the harness's ceiling;
- the workers' resident memory when they are ready (embedded: the delivery threads started;
  distributed: both workers answer a ping), once 5 % of the deliveries are done (every thread has
  opened its connections) and at the end, and the growth from the 5 % point.
Each mode runs `--runs` times on a fresh database; the last lines give the range of each figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from deliveries import KEY, PG_ADMIN, ROOT, account_tokens, free_port, knobs, start_sandbox
from wave_bare import TARGETS, bare

ACCOUNTS = 100


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(app: Any, reminders: int, pledges: int) -> tuple[int, int]:
    """Targets, a wave, 100 connected accounts with their pledges, and confirmed subscribers; returns
    the wave id and the number of network calls a pledge costs in all (Bluesky posts cost two).
    """
    from sqlalchemy import insert

    from accounts.models import Organisation
    from campaign.models import Campaign, CampaignStatus, Wave
    from campaign.offer import wave_target_ids
    from campaign.services import change_status, save_campaign, save_message
    from channels import Network
    from database import utcnow
    from extensions import db
    from recipients.models import Gender, Recipient, TargetRole
    from supporters import services
    from supporters.rehearsal import connect_sandbox_account
    from waves.models import Pledge, PledgeState, Subscription, SubscriptionState
    from waves.services import schedule_wave

    with app.app_context():
        organisation = Organisation(name="Bench")
        db.session.add(organisation)
        db.session.flush()
        db.session.add_all(
            Recipient(
                organisation_id=organisation.id,
                source="bench",
                external_id=str(n),
                role=TargetRole.DEPUTY,
                first_name="Député",
                last_name=f"N{n}",
                gender=Gender.FEMALE,
                handle_bluesky=f"depute{n}.targets.example",
                handle_mastodon=f"depute{n}@targets.example",
            )
            for n in range(TARGETS)
        )
        db.session.flush()
        campaign = save_campaign(
            Campaign(organisation_id=organisation.id),
            title="Bench",
            cause="Bench.",
            language="fr",
            networks=[n.value for n in Network if n is not Network.EMAIL],
            target_criteria={"roles": ["deputy"]},
        )
        save_message(campaign, None, label="Principal", bodies=["{handle} lisez le Livre blanc"])
        change_status(campaign, CampaignStatus.LIVE)
        now = utcnow()
        wave: Wave = schedule_wave(
            campaign,
            title="Bench",
            opens_at=now,
            closes_at=now + timedelta(hours=2),
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
            supporter = services.get_or_create_supporter(None, language="fr")
            network = Network.BLUESKY if n % 2 else Network.MASTODON
            accounts.append(connect_sandbox_account(supporter, network, f"bench{n}", instance="bench.example"))
        db.session.commit()
        targets = wave_target_ids(wave)
        rows, calls = [], 0
        for n in range(pledges):
            account = accounts[n % ACCOUNTS]
            rid = targets[(n // ACCOUNTS + n) % TARGETS]
            mention = (
                f"@depute{rid}.targets.example"
                if account.network is Network.BLUESKY
                else f"@depute{rid}@targets.example"
            )
            calls += 2 if account.network is Network.BLUESKY else 1
            rows.append(
                {
                    "wave_id": wave.id,
                    "supporter_id": account.supporter_id,
                    "account_id": account.id,
                    "network": account.network,
                    "recipient_id": rid,
                    "text": f"{mention} voix {n} : l'emploi local d'abord, {uuid.uuid4().hex[:12]}",
                    "state": PledgeState.PLEDGED,
                    "release_at": now,
                    "created_at": now,
                }
            )
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Pledge), rows[start : start + 5000])
        for start in range(0, reminders, 10000):
            db.session.execute(
                insert(Subscription),
                [
                    {
                        "campaign_id": campaign.id,
                        "email": f"personne{n}@exemple.fr",
                        "state": SubscriptionState.CONFIRMED,
                        "created_at": now,
                    }
                    for n in range(start, min(reminders, start + 10000))
                ],
            )
        db.session.commit()
        return wave.id, calls


def open_and_queue(app: Any) -> float:
    from database import utcnow
    from waves.jobs import open_due_waves, queue_reminders
    from waves.pledges import release_due_pledges

    started = time.perf_counter()
    with app.app_context():
        open_due_waves(utcnow())
        while release_due_pledges(utcnow()):
            pass
        queue_reminders(utcnow())
    return time.perf_counter() - started


def failures(app: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from extensions import db
    from scheduler.models import Delivery, DeliveryState

    with app.app_context():
        rows = db.session.execute(
            select(Delivery.error, func.count()).where(Delivery.state != DeliveryState.POSTED).group_by(Delivery.error)
        ).all()
        return {error: count for error, count in rows}


def pending(app: Any) -> int:
    from sqlalchemy import func, select

    from extensions import db
    from scheduler.models import Delivery, DeliveryState

    with app.app_context():
        count = db.session.scalar(
            select(func.count()).where(Delivery.state.in_((DeliveryState.QUEUED, DeliveryState.SENDING)))
        )
        db.session.remove()
    return int(count or 0)


def drain(app: Any, pids: list[int], total: int, tick: Any = None) -> tuple[float, list[float]]:
    """Until nothing is queued or being sent: the seconds, and each worker's RSS when 5 % were done."""
    started = time.perf_counter()
    warm: list[float] = []
    while True:
        if tick is not None:
            tick()
        left = pending(app)
        if not warm and left <= total * 0.95:
            warm = [rss_mb(pid) for pid in pids]
        if not left:
            return time.perf_counter() - started, warm or [rss_mb(pid) for pid in pids]
        time.sleep(0.1 if tick is None else 0.5)


def run(mode: str, args: argparse.Namespace, tmp: str, sandbox_url: str, smtp_port: int) -> dict[str, float]:
    from sqlalchemy import create_engine, text

    from app import create_app
    from extensions import db

    pg_name = None
    settings = {
        "SECRET_KEY": "bench",
        "TOKEN_KEYS": KEY,
        "SANDBOX_URL": sandbox_url,
        "SANDBOX_MOUNT": "false",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "NETWORK_TIMEOUT": "10",
        "LOG_LEVEL": "WARNING",
        "INSTANCE_PATH": tmp,
        "DELIVERY_WORKERS": str(args.threads),
        "OUTBOX_BATCH": str(args.batch),
    }
    if mode == "distributed":
        pg_name = f"porte_voix_bench_{uuid.uuid4().hex[:8]}"
        with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{pg_name}"'))
        settings |= {
            "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + pg_name,
            "DISPATCH": "celery",
            "CELERY_QUEUE": f"porte-voix-bench-{uuid.uuid4().hex[:6]}",
            "CELERY_BACKLOG": str(args.backlog),
        }
    else:
        settings |= {"DATABASE_URL": f"sqlite:///{tmp}/bench-{mode}.db", "DISPATCH": "threads"}
    os.environ.update(settings)
    app = create_app()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with app.app_context():
            db.create_all()
        knobs(sandbox_url, latency_ms=0, bluesky_existing_domains=[])
        wave_id, pledge_calls = seed(app, args.reminders, args.pledges)
        tokens = [t for t in account_tokens(app, list(range(1, ACCOUNTS + 1))) if t[0] != "x"]
        knobs(sandbox_url, latency_ms=args.latency_ms, bluesky_existing_domains=["targets.example"])
        queued = open_and_queue(app)
        concurrency = args.threads
        deliveries = args.reminders + args.pledges
        if mode == "embedded":
            from scheduler.dispatch import ThreadDispatcher

            pids = [os.getpid()]
            dispatcher = ThreadDispatcher(app, workers=args.threads)  # ready: its threads are started
            memory = [rss_mb(pid) for pid in pids]
            elapsed, warm = drain(app, pids, deliveries)
            dispatcher.shutdown(wait=True)
        else:
            per_worker = max(1, args.threads // 2)
            concurrency = per_worker * 2
            command = [sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--pool", "threads"]
            command += ["--concurrency", str(per_worker), "-Q", settings["CELERY_QUEUE"], "--loglevel", "WARNING"]
            command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
            for n in range(2):
                workers.append(
                    subprocess.Popen(  # noqa: S603
                        [*command, "-n", f"bench{n}-{settings['CELERY_QUEUE']}@%h"],
                        cwd=ROOT,
                        env=dict(os.environ),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            from scheduler.celery import CeleryDispatcher
            from scheduler.jobs import tick_outbox

            celery = app.extensions["porte_voix_celery"]
            names = {f"bench{n}-{settings['CELERY_QUEUE']}" for n in range(2)}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the clock starts when both workers answer
                replies = celery.control.ping(timeout=0.5)
                if names <= {name.split("@")[0] for reply in replies for name in reply}:
                    break
            else:
                raise SystemExit("the Celery workers did not start within a minute")
            pids = [worker.pid for worker in workers]
            memory = [rss_mb(pid) for pid in pids]
            app.extensions["porte_voix_dispatch"] = CeleryDispatcher(app)
            from database import utcnow

            def tick() -> None:
                with app.app_context():
                    tick_outbox(utcnow())
                    db.session.remove()

            elapsed, warm = drain(app, pids, deliveries, tick)
        memory_end = [rss_mb(pid) for pid in pids]
        calls = args.reminders + pledge_calls
        ideal = calls * args.latency_ms / 1000 / concurrency
        growth = max((end - start) / start for start, end in zip(warm, memory_end, strict=True))
        knobs(sandbox_url, latency_ms=args.latency_ms, bluesky_existing_domains=["targets.example"])
        baseline = bare(sandbox_url, smtp_port, tokens, args)
        print(
            f"{mode:<12} {deliveries:>9} {concurrency:>5} {queued:>8.1f} {elapsed:>8.1f} {deliveries / elapsed:>7.0f} "
            f"{ideal / elapsed:>9.2f} {baseline:>7.1f} {baseline / elapsed:>8.2f} "
            f"{'/'.join(f'{m:.0f}' for m in memory):>9} {'/'.join(f'{m:.0f}' for m in warm):>9} "
            f"{'/'.join(f'{m:.0f}' for m in memory_end):>9} {growth * 100:>7.1f}%",
            flush=True,
        )
        problems = failures(app)
        if problems:
            print(f"             not posted: {problems}")
        del wave_id
        return {
            "per s": deliveries / elapsed,
            "of ideal": ideal / elapsed,
            "of bare": baseline / elapsed,
            "growth %": growth * 100,
        }
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        with app.app_context():
            db.engine.dispose()
        if pg_name:
            with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reminders", type=int, default=100_000)
    parser.add_argument("--pledges", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--modes", default="embedded,distributed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="OUTBOX_BATCH: rows a claim and a task carry")
    parser.add_argument("--backlog", type=int, default=1000, help="CELERY_BACKLOG: rows handed to the broker")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    smtp_port = free_port()
    process, url = start_sandbox(smtp_port)
    print(f"{args.reminders} reminders and {args.pledges} pledged posts, sandbox latency {args.latency_ms} ms")
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(
        f"{'mode':<12} {'deliveries':>9} {'conc':>5} {'queue s':>8} {'drain s':>8} {'per s':>7} {'of ideal':>9} "
        f"{'bare s':>7} {'of bare':>8} {'RSS ready':>9} {'RSS 5 %':>9} {'RSS end':>9} {'growth':>8}"
    )
    results: dict[str, list[dict[str, float]]] = {}
    try:
        for mode in args.modes.split(","):
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    results.setdefault(mode, []).append(run(mode, args, tmp, url, smtp_port))
    finally:
        process.terminate()
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for mode, runs in results.items():
        ranges = ", ".join(
            f"{name} {min(r[name] for r in runs):.2f}–{max(r[name] for r in runs):.2f}" for name in runs[0]
        )
        print(f"{mode} over {len(runs)} run(s): {ranges}")


if __name__ == "__main__":
    main()
