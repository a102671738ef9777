"""Supporter page and click endpoint under load, against a bare Flask hello-world measured in the same run.

    .venv/bin/python bench/supporter_page.py [--seconds 10] [--connections 64] [--runs 3] [--rate 280]

Each app is served by gunicorn (the same workers and threads for all) and loaded by wrk from a second
process at 64 connections. The database holds 577 targets and 200,000 earlier actions (folded before the
load, as the job does). SQLite always; PostgreSQL too when it answers on 127.0.0.1:5432 (a database of
the run's own, dropped after). Hello-world is measured before and after the apps; the ratios are to the
lower of the two. For each database, without and then with an open wave over every target: the page to
new visitors, the page with half the visitors returning (cookies), new visitors loading the page then
clicking its link (every click counted, spread over the targets), one link replayed (refused), and an
open loop at --rate visitors a second (latency from when each was due). Each wrk load runs --runs times:
the best requests/s with the range of the runs, p50/p95/p99 of the best run, and the load average before
and after. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    low: float = 0.0  # the slowest run's requests/s


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = 577
ACTIONS = 200_000
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
UNLIMITED = "100000000 per minute"
GUNICORN = ["--workers", "2", "--worker-class", "gthread", "--threads", "8", "--log-level", "warning"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_uri: str) -> str:
    """Build the schema and the data; returns the campaign's slug."""
    from sqlalchemy import insert, update

    from app import create_app

    try:
        from campaign.fold import fold_tallies
    except ImportError:
        fold_tallies = None
    from campaign.models import Action, Campaign, CampaignStatus, CampaignTarget
    from campaign.services import change_status, save_campaign, save_message
    from campaign.targets import active_variants
    from channels import Network
    from database import utcnow
    from extensions import db
    from tests.conftest import recipient

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "bench"})
    rng = random.Random(577)
    with app.app_context():
        db.create_all()
        from accounts.services import get_or_create_organisation

        organisation = get_or_create_organisation("Bench")
        db.session.add_all(recipient(organisation.id, n, constituency_code=f"B{n:04d}") for n in range(1, TARGETS + 1))
        db.session.flush()
        campaign = save_campaign(
            Campaign(organisation_id=organisation.id),
            title="Bench",
            slug="bench",
            cause="Bench.",
            hashtags="Bench",
            link="https://example.org/bench",
            target_criteria={"roles": ["deputy"]},
        )
        save_message(
            campaign,
            None,
            label="M",
            bodies=[
                "{handle} {salutation}, lisez {link} {hashtags}",
                "Bonjour {name} : {link}",
                "{salutation} {name}, {link}",
            ],
        )
        campaign.networks = [n.value for n in Network if n is not Network.EMAIL]  # the social path is measured
        change_status(campaign, CampaignStatus.LIVE)
        db.session.commit()
        targets = [t for t in db.session.scalars(db.select(CampaignTarget.recipient_id))]
        variants = [v.id for v in active_variants(campaign)]
        networks = list(Network)
        now = utcnow()
        all_rows: list[dict[str, Any]] = []
        for start in range(0, ACTIONS, 20_000):
            rows = []
            for n in range(min(20_000, ACTIONS - start)):  # five days of history, in id order
                rows.append(
                    {
                        "campaign_id": campaign.id,
                        "recipient_id": rng.choice(targets),
                        "variant_id": rng.choice(variants),
                        "network": rng.choice(networks),
                        "visitor_id": f"{rng.getrandbits(64):016x}",
                        "text": "Bench text",
                        "mode": "link",
                        "created_at": now - timedelta(days=5) * (1 - (start + n) / ACTIONS),
                    }
                )
            db.session.execute(insert(Action), rows)
            all_rows += rows
        db.session.commit()
        started = time.perf_counter()
        if fold_tallies is None:  # a tree from before the fold (measuring "before"): the counts set directly
            for target, count in Counter(row["recipient_id"] for row in all_rows).items():
                db.session.execute(
                    update(CampaignTarget)
                    .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id == target)
                    .values(action_count=count)
                )
            db.session.commit()
        else:
            folded = fold_tallies(now)
            print(f"fold of the history: {folded:,} actions in {time.perf_counter() - started:.1f} s", flush=True)
        slug = campaign.slug
        db.engine.dispose()
    return slug


def open_wave(database_uri: str) -> None:
    """Open a wave over every target, its cap out of reach (the cap's reads are measured, not its refusals)."""
    from app import create_app
    from campaign.models import Campaign
    from channels import Network
    from database import utcnow
    from extensions import db
    from waves.jobs import open_due_waves
    from waves.services import MAX_CAP, schedule_wave

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "bench"})
    with app.app_context():
        campaign = db.session.scalars(db.select(Campaign)).one()
        now = utcnow()
        schedule_wave(
            campaign,
            title="Bench wave",
            opens_at=now,
            closes_at=now + timedelta(hours=6),
            message_ids=[m.id for m in campaign.messages],
            networks=[Network.X, Network.BLUESKY, Network.MASTODON],
            criteria={},
            cap_per_hour=MAX_CAP,
            now=now,
        )
        db.session.commit()
        assert open_due_waves(now + timedelta(seconds=1)) == 1
        db.engine.dispose()


def serve(app_spec: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn on a free port; the app in embedded mode (its scheduler folds the tallies every second)."""
    extra = ["--config", "scheduler/gunicorn_embedded.py"] if app_spec.startswith("app:") else []
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), *GUNICORN, *extra, "--bind", f"127.0.0.1:{port}", app_spec],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app_spec} did not start")


def load(
    name: str,
    url: str,
    seconds: int,
    connections: int,
    cookie: str = "",
    *,
    page: str = "",
    mode: str = "",
    returning: int = 0,
) -> Result:
    """wrk at `connections` for `seconds`: the URL as is, or supporters as `bench/visitors.lua` plays them."""
    headers = ["-H", f"Cookie: {cookie}"] if cookie else []
    script, env = "bench/wrk_report.lua", dict(os.environ)
    if mode:
        script = "bench/visitors.lua"
        env.update(PAGE=page, MODE=mode, RETURNING=str(returning), REPORT=str(ROOT / "bench/wrk_report.lua"))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *headers, "-s", str(ROOT / script), url],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Result(
        name,
        data["requests"] / (data["duration_us"] / 1e6),
        data["p50"] / 1000,
        data["p95"] / 1000,
        data["p99"] / 1000,
        data["errors"] + data["status_errors"],
    )


def best_of(runs: int, name: str, url: str, seconds: int, connections: int, cookie: str = "", **how: Any) -> Result:
    """The same load `runs` times: the best run, with the slowest run's rate kept for the range."""
    results = [load(name, url, seconds, connections, cookie, **how) for _ in range(runs)]
    best = max(results, key=lambda result: result.rps)
    best.low = min(result.rps for result in results)
    best.errors = sum(result.errors for result in results)
    return best


def bench_app(label: str, database_uri: str, seconds: int, connections: int, runs: int, rate: float) -> list[Result]:
    import requests

    from bench.open_loop import open_loop  # once ROOT is on the path

    slug = seed(database_uri)
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
    # Every throttle runs and counts, none refuses: wrk is one client, where the public is many.
    env.update(RATELIMIT_DEFAULT=UNLIMITED, CLICK_LIMIT=UNLIMITED, VISIT_LIMIT=UNLIMITED)
    env.update(SMTP_SANDBOX="false", SANDBOX_MOUNT="false")  # two workers: no sink to share a port
    results = []
    for wave in (False, True):
        if wave:
            open_wave(database_uri)
        name = f"{label}{', wave open' if wave else ''}"
        process, url = serve("app:create_app()", env)
        try:
            page_path = f"/c/{slug}"
            page = requests.get(url + page_path, timeout=10)
            page.raise_for_status()
            cookie = "; ".join(f"{key}={value}" for key, value in page.cookies.items())
            click = re.search(r'href="(/c/[^"]+/send/x/[^"]+)"', page.text)
            assert click, "no send link on the campaign page"
            load(f"warm-up {label}", url + page_path, 2, connections)
            results += [
                best_of(runs, f"page, new visitors ({name})", url + page_path, seconds, connections),
                best_of(
                    runs,
                    f"page, half returning ({name})",
                    url,
                    seconds,
                    connections,
                    page=page_path,
                    mode="visits",
                    returning=50,
                ),
                # A new visitor's page, then its click: every click is counted, spread over the targets.
                best_of(runs, f"page + click ({name})", url, seconds, connections, page=page_path, mode="clicks"),
                # The same visit clicking again and again: counted once, then checked and refused each time.
                best_of(
                    runs,
                    f"click replayed ({name})",
                    f"{url}{html.unescape(click.group(1))}",
                    seconds,
                    connections,
                    cookie,
                ),
            ]
            rps, p50, p95, p99, errors = open_loop(url, page_path, rate, seconds)  # one run: its rate is fixed
            results.append(Result(f"open loop {rate:.0f}/s page + click ({name})", rps, p50, p95, p99, errors, rps))
        finally:
            process.terminate()
            process.wait(timeout=10)
    return results


def postgres_database() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return None
    from sqlalchemy import create_engine, text

    name = f"porte_voix_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return name


def drop_postgres(name: str) -> None:
    from sqlalchemy import create_engine, text

    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def hello_world(label: str, seconds: int, connections: int, runs: int) -> Result:
    hello, hello_url = serve("bench.hello:app", dict(os.environ))
    try:
        load("warm-up hello", hello_url, 2, connections)
        return best_of(runs, f"hello-world, {label}", hello_url, seconds, connections)
    finally:
        hello.terminate()
        hello.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=280.0, help="open loop: visitors (and clicks) a second")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="pv-bench-"))
    how = (args.seconds, args.connections, args.runs)
    before = hello_world("before", *how)
    results = bench_app("SQLite", f"sqlite:///{tmp / 'bench.db'}", *how, args.rate)
    pg = None if args.sqlite_only else postgres_database()
    if pg:
        try:
            results += bench_app("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + pg, *how, args.rate)
        finally:
            drop_postgres(pg)
    elif not args.sqlite_only:
        print("PostgreSQL not reachable at 127.0.0.1:5432: SQLite only")
    time.sleep(10)  # let the open loop's queue drain and the load settle
    after = hello_world("after", *how)
    shutil.rmtree(tmp, ignore_errors=True)
    baseline = min(before, after, key=lambda result: result.rps)  # the lower: the ratios are not flattered
    print(
        f"\n{TARGETS} targets, {ACTIONS:,} earlier actions; gunicorn {' '.join(GUNICORN)} (embedded: the fold "
        f"runs every second); wrk -t2 -c{args.connections} -d{args.seconds}s, best of {args.runs} with the range; "
        f"open loop at {args.rate:.0f} visitors a second, each one page and one click, latency from when due; "
        f"{os.cpu_count()} cores; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after\n"
    )
    width = max(len(result.name) for result in [before, *results])
    print(
        f"{'':{width}} {'req/s':>7} {'range':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'× hello':>8}"
    )
    for result in [before, after, *results]:
        spread = f"{result.low:.0f}–{result.rps:.0f}"
        print(
            f"{result.name:{width}} {result.rps:7.0f} {spread:>11} {result.p50_ms:8.1f} {result.p95_ms:8.1f} "
            f"{result.p99_ms:8.1f} {result.errors:7d} {result.rps / baseline.rps:8.2f}"
        )
    print(
        "\n'page + click' counts both requests: clicks a second are half its rate. The open loop's rate is "
        "completed visits (page and click); its latency is the pair's."
    )


if __name__ == "__main__":
    main()
