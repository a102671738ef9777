"""Supporter page and click endpoint under load, against a bare Flask hello-world measured in the same run.

    .venv/bin/python bench/supporter_page.py [--seconds 10] [--connections 64] [--runs 3]

Each app is served by gunicorn (the same workers and threads for all) and loaded by wrk from a second
process at 64 connections. The database holds 577 targets and 200,000 earlier actions. SQLite always;
PostgreSQL too when it answers on 127.0.0.1:5432 (a database of the run's own, dropped after).
Each load runs --runs times; prints the best requests/s with the range of the runs, p50/p95/p99 of the
best run, the ratio to hello-world's best, and the load average before and after. Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = 577
ACTIONS = 200_000
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
UNLIMITED = "100000000 per minute"
GUNICORN = ["--workers", "2", "--worker-class", "gthread", "--threads", "8", "--log-level", "warning"]


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    low: float = 0.0  # the slowest run's requests/s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_uri: str) -> str:
    """Build the schema and the data; returns the campaign's slug."""
    from sqlalchemy import insert, update

    from app import create_app
    from campaign.models import Action, Campaign, CampaignStatus, CampaignTarget
    from campaign.services import change_status, save_campaign, save_message
    from campaign.targets import active_variants
    from channels import Network
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
        counts: Counter[int] = Counter()
        for start in range(0, ACTIONS, 20_000):
            rows = []
            for _ in range(min(20_000, ACTIONS - start)):
                target = rng.choice(targets)
                counts[target] += 1
                rows.append(
                    {
                        "campaign_id": campaign.id,
                        "recipient_id": target,
                        "variant_id": rng.choice(variants),
                        "network": rng.choice(networks),
                        "visitor_id": f"{rng.getrandbits(64):016x}",
                        "text": "Bench text",
                        "mode": "link",
                    }
                )
            db.session.execute(insert(Action), rows)
        for target, count in counts.items():
            db.session.execute(
                update(CampaignTarget)
                .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id == target)
                .values(action_count=count)
            )
        db.session.commit()
        slug = campaign.slug
        db.engine.dispose()
    return slug


def serve(app_spec: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{port}", app_spec], cwd=ROOT, env=env
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


def load(name: str, url: str, seconds: int, connections: int, cookie: str = "") -> Result:
    headers = ["-H", f"Cookie: {cookie}"] if cookie else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", *headers, "-s", str(ROOT / "bench/wrk_report.lua"), url],
        capture_output=True,
        text=True,
        check=True,
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


def best_of(runs: int, name: str, url: str, seconds: int, connections: int, cookie: str = "") -> Result:
    """The same load `runs` times: the best run, with the slowest run's rate kept for the range."""
    results = [load(name, url, seconds, connections, cookie) for _ in range(runs)]
    best = max(results, key=lambda result: result.rps)
    best.low = min(result.rps for result in results)
    best.errors = sum(result.errors for result in results)
    return best


def bench_app(label: str, database_uri: str, seconds: int, connections: int, runs: int) -> list[Result]:
    import requests

    slug = seed(database_uri)
    env = {**os.environ, "DATABASE_URL": database_uri, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
    # Every throttle runs and counts, none refuses: wrk is one client, where the public is many.
    env.update(RATELIMIT_DEFAULT=UNLIMITED, CLICK_LIMIT=UNLIMITED, VISIT_LIMIT=UNLIMITED)
    process, url = serve("app:create_app()", env)
    try:
        page = requests.get(f"{url}/c/{slug}", timeout=10)
        page.raise_for_status()
        cookie = "; ".join(f"{name}={value}" for name, value in page.cookies.items())
        click = re.search(r'href="(/c/[^"]+/send/x/[^"]+)"', page.text)
        assert click, "no send link on the campaign page"
        load(f"warm-up {label}", f"{url}/c/{slug}", 2, connections)
        return [
            best_of(runs, f"campaign page ({label})", f"{url}/c/{slug}", seconds, connections),
            # The same visit clicking again and again: counted once, then checked and refused each time.
            best_of(runs, f"click endpoint ({label})", f"{url}{click.group(1)}", seconds, connections, cookie),
        ]
    finally:
        process.terminate()
        process.wait(timeout=10)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="pv-bench-"))
    hello, hello_url = serve("bench.hello:app", dict(os.environ))
    try:
        load("warm-up hello", hello_url, 2, args.connections)
        baseline = best_of(args.runs, "hello-world", hello_url, args.seconds, args.connections)
    finally:
        hello.terminate()
        hello.wait(timeout=10)
    results = bench_app("SQLite", f"sqlite:///{tmp / 'bench.db'}", args.seconds, args.connections, args.runs)
    pg = postgres_database()
    if pg:
        try:
            results += bench_app(
                "PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + pg, args.seconds, args.connections, args.runs
            )
        finally:
            drop_postgres(pg)
    else:
        print("PostgreSQL not reachable at 127.0.0.1:5432: SQLite only")
    shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{TARGETS} targets, {ACTIONS:,} earlier actions; gunicorn {' '.join(GUNICORN)}; "
        f"wrk -t2 -c{args.connections} -d{args.seconds}s, best of {args.runs}; {os.cpu_count()} cores; "
        f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after\n"
    )
    print(f"{'':34} {'req/s':>9} {'range':>13} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'× hello':>8}")
    for result in [baseline, *results]:
        spread = f"{result.low:.0f}–{result.rps:.0f}"
        print(
            f"{result.name:34} {result.rps:9.0f} {spread:>13} {result.p50_ms:8.1f} {result.p95_ms:8.1f} "
            f"{result.p99_ms:8.1f} {result.errors:7d} {result.rps / baseline.rps:8.2f}"
        )


if __name__ == "__main__":
    main()
