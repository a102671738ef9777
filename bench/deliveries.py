"""Delivery throughput: 2,000 API posts through the sandbox networks with 50 ms latency, by a pool of K threads.

    .venv/bin/python bench/deliveries.py [--posts 2000] [--latency-ms 50] [--workers 8,32] [--postgres]

The sandbox runs in a process of its own (as the networks would: its threads do not share our GIL).
Posts are spread over 200 connected accounts, a third on each network, so that no account meets its
network's limit. For each K the bench queues the posts, hands their ids to a `ThreadDispatcher` of K
threads, and times until every row is POSTED. It prints:
- the drain time and its ratio to the ideal bound, 2,000 × latency / K (what K threads waiting on
  the network could do at best);
- the same ratio for a baseline measured in the same run: K bare threads making the same posts to the
  same endpoints with the same accounts' tokens, with `requests` and nothing else (no database, no
  outbox, no tweepy): the ceiling of this harness on this machine, whose two cores the sandbox shares.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ACCOUNTS = 200
TEXT = "Madame la Députée, les entreprises sociales comptent sur vous. Lisez le Livre blanc : https://example.org/lb"
KEY = "YmVuY2gtdG9rZW4ta2V5LW9mLXRoaXJ0eS10d28tYnk="

SANDBOX = """
import sys, time
sys.path.insert(0, {root!r})
from sandbox import Knobs, State
from sandbox.server import SandboxServer
from sandbox.smtp import SmtpSink
state = State(knobs=Knobs())
server = SandboxServer(state, port={port}).start()
sink = SmtpSink(state, port={smtp_port}).start()
print("ready", flush=True)
time.sleep(10**6)
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(smtp_port: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """The sandbox networks (and its SMTP sink on `smtp_port`) in a process of their own."""
    port = free_port()
    script = SANDBOX.format(root=str(ROOT), port=port, smtp_port=smtp_port or free_port())
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process, f"http://127.0.0.1:{port}"


def wait_until_done(app: Any, ids: list[int] | None = None, *, poll: float = 0.2) -> None:
    """Until no delivery (of `ids`, or at all) is queued or being sent."""
    from sqlalchemy import func, select

    from extensions import db
    from scheduler.models import Delivery, DeliveryState

    while True:
        with app.app_context():
            query = select(func.count()).where(Delivery.state.in_((DeliveryState.QUEUED, DeliveryState.SENDING)))
            if ids is not None:
                query = query.where(Delivery.id.in_(ids))
            pending = db.session.scalar(query)
            db.session.remove()
        if not pending:
            return
        time.sleep(poll)


def knobs(url: str, **values: Any) -> None:
    requests.post(f"{url}/__sandbox__/config", json=values, timeout=5).raise_for_status()


def connect_accounts(app: Any) -> list[int]:
    """200 supporters, each with an account on one network, connected through the real flows."""
    from extensions import db
    from supporters import services
    from supporters.networks import API_NETWORKS
    from supporters.rehearsal import connect_sandbox_account

    with app.app_context():
        ids = []
        for n in range(ACCOUNTS):
            supporter = services.get_or_create_supporter(None, language="fr")
            account = connect_sandbox_account(supporter, API_NETWORKS[n % 3], f"bench{n}", instance="bench.example")
            ids.append(account.id)
        db.session.commit()
        return ids


def queue(app: Any, account_ids: list[int], posts: int, run: int) -> list[int]:
    from extensions import db
    from supporters.models import SocialAccount
    from supporters.posting import queue_post

    with app.app_context():
        accounts = {a.id: a for a in db.session.query(SocialAccount).filter(SocialAccount.id.in_(account_ids))}
        ids = [queue_post(accounts[account_ids[n % len(account_ids)]], f"{TEXT} ({run}.{n})").id for n in range(posts)]
        db.session.commit()
        return ids


def drain(app: Any, ids: list[int], workers: int) -> float:
    from extensions import db
    from scheduler.dispatch import ThreadDispatcher
    from scheduler.models import Delivery, DeliveryState

    dispatcher = ThreadDispatcher(app, workers=workers)
    started = time.perf_counter()
    for delivery_id in ids:
        dispatcher.submit(delivery_id)
    wait_until_done(app, ids, poll=0.05)
    elapsed = time.perf_counter() - started
    dispatcher.shutdown(wait=True)
    with app.app_context():
        states = db.session.query(Delivery.state).filter(Delivery.id.in_(ids)).all()
        failed = [s for (s,) in states if s is not DeliveryState.POSTED]
        if failed:
            raise SystemExit(f"{len(failed)} deliveries did not post: {set(failed)}")
    return elapsed


def account_tokens(app: Any, account_ids: list[int]) -> list[tuple[str, dict[str, Any]]]:
    from extensions import db
    from supporters.models import SocialAccount
    from supporters.services import open_tokens

    with app.app_context():
        return [
            (a.network.value, open_tokens(a))
            for a in db.session.query(SocialAccount)
            .filter(SocialAccount.id.in_(account_ids))
            .order_by(SocialAccount.id)
        ]


def bare_post(session: requests.Session, url: str, network: str, secrets: dict[str, Any], text: str) -> None:
    """One post made with bare `requests` to the sandbox's endpoint of `network`, with an account's tokens."""
    from channels.bluesky import new_record_key

    if network == "x":
        response = session.post(
            f"{url}/x/2/tweets",
            json={"text": text},
            headers={"Authorization": f"Bearer {secrets['access']}"},
            timeout=10,
        )
    elif network == "mastodon":
        response = session.post(
            f"{url}/mastodon/bench.example/api/v1/statuses",
            data={"status": text},
            headers={"Authorization": f"Bearer {secrets['access']}", "Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
    else:
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}
        response = session.post(
            f"{url}/bluesky/xrpc/com.atproto.repo.createRecord",
            json={
                "repo": secrets["did"],
                "collection": "app.bsky.feed.post",
                "rkey": new_record_key(),
                "record": record,
            },
            headers={"Authorization": f"Bearer {secrets['access_jwt']}"},
            timeout=10,
        )
    response.raise_for_status()


def baseline(url: str, tokens: list[tuple[str, dict[str, Any]]], posts: int, workers: int, run: int) -> float:
    """K threads making the same posts to the same endpoints with the same tokens: bare `requests`, no app."""
    local = threading.local()

    def one(n: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        network, secrets = tokens[n % len(tokens)]
        text = f"{TEXT} (base {run}.{n})"
        bare_post(session, url, network, secrets, text)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(posts)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", default="8,32")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text

    from app import create_app
    from extensions import db

    process, url = start_sandbox()
    pg_name = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.postgres:
                pg_name = f"porte_voix_bench_{uuid.uuid4().hex[:8]}"
                with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{pg_name}"'))
                database = PG_ADMIN.rsplit("/", 1)[0] + "/" + pg_name
            else:
                database = f"sqlite:///{tmp}/bench.db"
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": database,
                    "SECRET_KEY": "bench",
                    "TOKEN_KEYS": (KEY,),
                    "SANDBOX_URL": url,
                    "SANDBOX_MOUNT": False,
                    "NETWORK_TIMEOUT": 10.0,
                    "LOG_LEVEL": "WARNING",
                    "DELIVERY_WORKERS": max(int(k) for k in args.workers.split(",")),
                }
            )
            with app.app_context():
                db.create_all()
            account_ids = connect_accounts(app)
            tokens = account_tokens(app, account_ids)
            knobs(url, latency_ms=args.latency_ms)
            kind = "PostgreSQL" if args.postgres else "SQLite"
            print(
                f"{args.posts} posts, {ACCOUNTS} accounts (X, Mastodon, Bluesky), sandbox latency "
                f"{args.latency_ms} ms, {kind}"
            )
            print(
                f"{'K':>4} {'drain s':>9} {'ideal s':>8} {'of ideal':>9} {'baseline s':>11} {'baseline of ideal':>18}"
            )
            for run, workers in enumerate(int(k) for k in args.workers.split(",")):
                ids = queue(app, account_ids, args.posts, run)
                elapsed = drain(app, ids, workers)
                base = baseline(url, tokens, args.posts, workers, run)
                ideal = args.posts * args.latency_ms / 1000 / workers
                print(
                    f"{workers:>4} {elapsed:>9.2f} {ideal:>8.2f} {ideal / elapsed:>9.2f} {base:>11.2f} "
                    f"{ideal / base:>18.2f}"
                )
            with app.app_context():
                db.engine.dispose()
    finally:
        process.terminate()
        if pg_name:
            with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
