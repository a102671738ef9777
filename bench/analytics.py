"""Dashboard speed on a large campaign: 1,000,000 actions, 100,000 supporters, 577 targets.

    .venv/bin/python bench/analytics.py [--actions 1000000] [--supporters 100000] [--requests 40]
                                        [--databases sqlite,postgresql]

For each database the bench builds the campaign (four waves hold 40 % of the actions; 20,000 posts
through 5,000 connected accounts with their engagement), rebuilds its tallies with `flask analytics
rebuild`'s code, then signs in as the analyst and requests each dashboard page in-process with the
Flask test client, printing p50 and p95 against the targets (PostgreSQL under 200 ms, SQLite under
500 ms). Two baselines are measured in the same run: the sign-in page (the app's floor for any
page), and one plain GROUP BY over the campaign's actions (what a dashboard would pay per figure
without the tallies). A PostgreSQL database of its own is created and dropped.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
KEY = "YmVuY2gtdG9rZW4ta2V5LW9mLXRoaXJ0eS10d28tYnk="
TARGETS = 577
WAVES = 4
POSTS = 20_000
ACCOUNTS = 5_000
CHUNK = 20_000
TARGETS_MS = {"postgresql": 200, "sqlite": 500}


def build(app: Any, actions: int, supporters: int) -> tuple[int, list[int], float]:
    """The organisation, targets, campaign, waves, accounts, deliveries and actions; returns ids and the load time."""
    from sqlalchemy import insert, update

    from accounts.models import Organisation, Role, User
    from campaign.models import Action, ActionMode, Campaign, CampaignStatus, CampaignTarget, Wave, WaveTarget
    from campaign.services import save_campaign, save_message
    from campaign.tallies import PostMetric, VisitTally
    from channels import Network
    from extensions import db
    from recipients.models import Gender, Recipient, TargetRole
    from scheduler.models import Delivery, DeliveryState
    from supporters.models import Supporter

    rng = random.Random(577)  # noqa: S311
    started = time.perf_counter()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first_day = now - timedelta(days=30)
    organisation = Organisation(name="Bench")
    db.session.add(organisation)
    db.session.flush()
    user = User(organisation_id=organisation.id, email="analyst@bench.example", name="A", role=Role.ANALYST)
    user.set_password("bench-password")
    db.session.add(user)
    groups = ["RE", "RN", "LFI", "LR", "SOC", "DEM", "HOR", "ECO", "LIOT", "GDR", "NI"]
    db.session.execute(
        insert(Recipient),
        [
            {
                "organisation_id": organisation.id,
                "source": "bench",
                "external_id": f"PA{n}",
                "role": TargetRole.DEPUTY,
                "first_name": f"Prénom{n}",
                "last_name": f"Nom{n}",
                "gender": Gender.FEMALE if n % 2 else Gender.MALE,
                "group_name": groups[n % len(groups)],
                "department": f"{1 + n % 95:02d}",
                "constituency_code": f"{1 + n % 95:02d}{n % 12:02d}",
                "handle_bluesky": f"depute{n}.bsky.social",
                "committees": [],
                "is_active": True,
            }
            for n in range(TARGETS)
        ],
    )
    campaign = save_campaign(
        Campaign(organisation_id=organisation.id),
        title="Bench",
        cause="",
        language="fr",
        target_criteria={"roles": ["deputy"]},
    )
    save_message(campaign, None, label="A", bodies=[f"{{handle}} variante {k}" for k in range(6)])
    campaign.status = CampaignStatus.LIVE
    db.session.flush()
    recipients = list(db.session.scalars(db.select(Recipient.id).where(Recipient.source == "bench")))
    assert db.session.scalar(db.select(db.func.count()).select_from(CampaignTarget)) == TARGETS  # synced on save
    variants = [v.id for m in campaign.messages for v in m.variants]
    waves = []
    for k in range(WAVES):
        opens = first_day + timedelta(days=5 + 6 * k)
        wave = Wave(campaign_id=campaign.id, title=f"Vague {k}", opens_at=opens, closes_at=opens + timedelta(hours=3))
        db.session.add(wave)
        db.session.flush()
        waves.append(wave)
        db.session.execute(
            insert(WaveTarget),
            [{"wave_id": wave.id, "recipient_id": r, "position": i} for i, r in enumerate(recipients)],
        )
    db.session.execute(insert(Supporter), [{"language": "fr"} for _ in range(ACCOUNTS)])
    supporter_ids = list(db.session.scalars(db.select(Supporter.id)))
    from supporters.models import SocialAccount

    db.session.execute(
        insert(SocialAccount),
        [
            {
                "supporter_id": sid,
                "network": Network.BLUESKY,
                "remote_id": f"did:plc:{sid}",
                "handle": f"soutien{sid}.bsky.social",
                "followers": rng.randrange(20, 5000),
                "sealed_tokens": "-",
            }
            for sid in supporter_ids
        ],
    )
    account_ids = list(db.session.scalars(db.select(SocialAccount.id)))
    _insert_rows(
        Delivery,
        [
            {
                "kind": "post",
                "account_id": account_ids[n % ACCOUNTS],
                "network": Network.BLUESKY,
                "text": "t",
                "state": DeliveryState.POSTED,
                "idempotency_key": f"bench-{n}",
                "remote_id": f"rk{n}",
                "next_attempt_at": now,
            }
            for n in range(POSTS)
        ],
    )
    delivery_ids = list(db.session.scalars(db.select(Delivery.id).order_by(Delivery.id)))
    counts = dict.fromkeys(recipients, 0)
    rows: list[dict[str, Any]] = []
    api_every = max(1, actions // POSTS)
    posted = 0
    metrics = []
    for n in range(actions):
        in_wave = n % 10 < 4
        wave = waves[n % WAVES] if in_wave else None
        when = (
            wave.opens_at + timedelta(seconds=rng.randrange(0, 3 * 3600))
            if wave
            else first_day + timedelta(seconds=rng.randrange(0, 30 * 86400))
        )
        recipient_id = recipients[min(TARGETS - 1, int(rng.paretovariate(1.2))) if n % 3 else rng.randrange(TARGETS)]
        counts[recipient_id] += 1
        api = n % api_every == 0 and posted < POSTS
        row = {
            "campaign_id": campaign.id,
            "recipient_id": recipient_id,
            "variant_id": variants[n % len(variants)],
            "wave_id": wave.id if wave else None,
            "network": Network.BLUESKY if api else (Network.X, Network.BLUESKY, Network.MASTODON)[n % 3],
            "mode": ActionMode.API if api else ActionMode.LINK,
            "visitor_id": f"v{rng.randrange(supporters):015d}",
            "text": "t",
            "created_at": when,
            "delivery_id": delivery_ids[posted] if api else None,
            "confirmed_at": when + timedelta(minutes=3) if (not api and n % 7 == 0) else None,
            "confirmed_url": "",
        }
        if api:
            metrics.append(
                {
                    "delivery_id": delivery_ids[posted],
                    "campaign_id": campaign.id,
                    "wave_id": wave.id if wave else 0,
                    "recipient_id": recipient_id,
                    "network": Network.BLUESKY,
                    "posted_at": when,
                    "likes": rng.randrange(0, 30),
                    "reposts": rng.randrange(0, 5),
                    "replies": rng.randrange(0, 3),
                    "quotes": 0,
                    "fetched_at": now,
                    "next_fetch_at": now + timedelta(hours=1),
                    "error": "",
                }
            )
            posted += 1
        rows.append(row)
        if len(rows) == CHUNK:
            _insert_rows(Action, rows)
            rows = []
    _insert_rows(Action, rows)
    _insert_rows(PostMetric, metrics)
    db.session.execute(
        insert(VisitTally),
        [
            {
                "campaign_id": campaign.id,
                "wave_id": 0,
                "hour": first_day + timedelta(hours=h),
                "visits": 200,
                "shown": 230,
            }
            for h in range(30 * 24)
        ],
    )
    for recipient_id, count in counts.items():
        db.session.execute(
            update(CampaignTarget)
            .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.recipient_id == recipient_id)
            .values(action_count=count)
        )
    db.session.commit()
    return campaign.id, [w.id for w in waves], time.perf_counter() - started


def _insert_rows(model: Any, rows: list[dict[str, Any]]) -> None:
    """A bulk load: COPY on PostgreSQL (one INSERT per row there is slow), executemany on SQLite."""
    import enum

    from sqlalchemy import insert

    from extensions import db

    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(insert(model), rows)
        return
    defaults = {  # COPY skips the model's defaults: fill them in as an INSERT would
        c.key: (c.default.arg if c.default.is_scalar else c.default.arg(None))
        for c in model.__table__.columns
        if c.key not in rows[0] and c.default is not None
    }
    rows = [defaults | row for row in rows]
    columns = list(rows[0])
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([v.value if isinstance(v, enum.Enum) else v for v in (row[c] for c in columns)])


def timed(client: Any, url: str, n: int) -> list[float]:
    for _ in range(3):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    return sorted(samples)


def p95(samples: list[float]) -> float:
    return samples[max(0, int(round(0.95 * len(samples))) - 1)]


def run(kind: str, actions: int, supporters: int, n: int) -> None:
    from sqlalchemy import create_engine, func, select, text

    from app import create_app
    from campaign.models import Action
    from campaign.tallies import ACTIONS, TallyMark, rebuild
    from extensions import db

    admin = None
    if kind == "postgresql":
        name = f"porte_voix_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        uri = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    else:
        folder = tempfile.mkdtemp(prefix="pv-bench-")
        uri = f"sqlite:///{folder}/bench.db"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "TOKEN_KEYS": (KEY,), "LOG_LEVEL": "WARNING"}
        | {"WTF_CSRF_ENABLED": False}  # the bench signs in with a plain POST
    )
    try:
        with app.app_context():
            db.create_all()
            campaign_id, wave_ids, load = build(app, actions, supporters)
            if kind == "postgresql":  # what autovacuum would have done after such a load
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            # The loaded actions count as folded (the upgrade's migration marks a history the same way).
            db.session.merge(TallyMark(name=ACTIONS, last_id=db.session.scalar(select(func.max(Action.id)))))
            db.session.commit()
            started = time.perf_counter()
            rebuild(campaign_id)
            db.session.commit()
            rebuilt = time.perf_counter() - started
            if kind == "postgresql":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            scan = []
            for _ in range(5):
                started = time.perf_counter()
                db.session.execute(
                    select(Action.network, func.count())
                    .where(Action.campaign_id == campaign_id)
                    .group_by(Action.network)
                ).all()
                scan.append((time.perf_counter() - started) * 1000)
            people = db.session.scalar(select(func.count(func.distinct(Action.visitor_id))))
            db.session.remove()
        client = app.test_client()
        response = client.post("/login", data={"email": "analyst@bench.example", "password": "bench-password"})
        assert response.status_code == 302, response.status_code
        print(f"\n{kind}: {actions:,} actions, {people:,} supporters, {TARGETS} targets")
        print(f"  loaded in {load:.0f} s; tallies rebuilt from the actions in {rebuilt:.1f} s")
        baseline = p95(timed(app.test_client(), "/login", n))  # signed out: the page itself
        print(f"  baseline: the sign-in page p95 {baseline:.1f} ms; one GROUP BY over the actions {min(scan):.0f} ms")
        pages = {
            "organisation overview": "/admin/analytics",
            "campaign dashboard": f"/admin/campaigns/{campaign_id}/analytics",
            "campaign, 7 days": f"/admin/campaigns/{campaign_id}/analytics?start="
            + (datetime.now(UTC) - timedelta(days=7)).date().isoformat(),
            "coverage sorted by name": f"/admin/campaigns/{campaign_id}/analytics?sort=name&dir=asc",
            "wave dashboard": f"/admin/campaigns/{campaign_id}/waves/{wave_ids[0]}/analytics",
            "campaign JSON export": f"/admin/campaigns/{campaign_id}/analytics.json",
            "campaign CSV export": f"/admin/campaigns/{campaign_id}/analytics.csv",
        }
        target = TARGETS_MS[kind]
        for label, url in pages.items():
            samples = timed(client, url, n)
            worst = p95(samples)
            verdict = "meets" if worst < target else "MISSES"
            print(
                f"  {label:<24} p50 {statistics.median(samples):6.1f} ms  p95 {worst:6.1f} ms"
                f"  ({worst / baseline:4.1f}× the sign-in page; {verdict} {target} ms)"
            )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--supporters", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        run(kind.strip(), args.actions, args.supporters, args.requests)


if __name__ == "__main__":
    main()
