"""Does "forgot my password" take the same time for an address with an account and one without?

The app's test client posts the form `--requests` times for each, interleaved (known, unknown, known…),
so that both see the same machine; it prints each side's median and 90th percentile in milliseconds,
their ratio (known ÷ unknown), the range of three runs, and the load average. The outbox's thread is not
running, the throttle and the proof of work are off: only the request's own work is timed, which is what a
stranger can see.

    .venv/bin/python bench/reset_timing.py --requests 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts.models import Organisation, Role, User  # noqa: E402
from app import create_app  # noqa: E402
from extensions import db  # noqa: E402


def one_run(requests_each: int) -> tuple[list[float], list[float]]:
    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "SECRET_KEY": "bench",
            "TOKEN_KEYS": ("dGVzdC10b2tlbi1rZXktb2YtdGhpcnR5LXR3by1ieXQ=",),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "ALTCHA_ENABLED": False,  # the proof of work is the browser's cost, the same for any address
            "SANDBOX_MOUNT": False,
        }
    )
    with app.app_context():
        db.create_all()
        organisation = Organisation(name="Bench")
        db.session.add(organisation)
        db.session.flush()
        user = User(organisation_id=organisation.id, email="known@bench.example", name="K", role=Role.ADMIN)
        user.set_password("a long bench password")
        db.session.add(user)
        db.session.commit()
    client = app.test_client()
    known: list[float] = []
    unknown: list[float] = []
    for n in range(requests_each * 2):
        email, into = ("known@bench.example", known) if n % 2 == 0 else (f"nobody{n}@bench.example", unknown)
        start = time.perf_counter()
        response = client.post("/login/forgot", data={"email": email})
        into.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 302, response.text
    return known[10:], unknown[10:]  # the first requests warm caches up


def p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests for each kind of address, per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ratios = []
    for run in range(args.runs):
        known, unknown = one_run(args.requests)
        ratio = statistics.median(known) / statistics.median(unknown)
        ratios.append(ratio)
        print(
            f"run {run + 1}: known median {statistics.median(known):.2f} ms (p90 {p90(known):.2f}), "
            f"unknown median {statistics.median(unknown):.2f} ms (p90 {p90(unknown):.2f}), ratio {ratio:.3f}"
        )
    print(
        f"ratio known/unknown: {min(ratios):.3f}–{max(ratios):.3f} over {args.runs} runs; "
        f"load average {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
