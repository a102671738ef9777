"""One scheduler at a time: the lease, the ticks it gates, the CLI, and the banner when nothing ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from accounts.models import Role
from database import utcnow
from extensions import db
from scheduler import JobSpec, lease
from scheduler.runner import tick
from tests.conftest import eventually, login

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_one_holder_at_a_time_and_a_takeover_within_a_minute_of_its_death(app: Flask, ctx: None) -> None:
    assert lease.hold("A", T0)
    assert not lease.hold("B", T0 + timedelta(seconds=10))  # A holds it: B waits
    assert lease.hold("A", T0 + timedelta(seconds=20))  # A ticks again: renewed until 20 + 45 s
    assert not lease.hold("B", T0 + timedelta(seconds=64))
    # A died after its tick at 20 s; B's tick at 66 s finds the lease run out and takes it.
    assert lease.hold("B", T0 + timedelta(seconds=66))
    assert not lease.hold("A", T0 + timedelta(seconds=70))  # a late A does not get it back
    assert lease.heartbeat() == T0 + timedelta(seconds=66)


def test_a_clean_stop_lets_the_next_scheduler_take_over_at_once(app: Flask, ctx: None) -> None:
    assert lease.hold("A", T0)
    lease.release("A", T0 + timedelta(seconds=1))
    assert lease.hold("B", T0 + timedelta(seconds=1))


def test_a_tick_runs_its_job_only_under_the_lease(app: Flask) -> None:
    calls: list[datetime] = []
    job = JobSpec("probe", calls.append, every_seconds=1)
    with app.app_context():
        assert lease.hold("other", utcnow())
    assert not tick(app, job, "me") and calls == []  # the other scheduler is alive
    assert tick(app, job, "other") and len(calls) == 1


def test_a_failing_job_does_not_stop_the_scheduler(app: Flask) -> None:
    def boom(now: datetime) -> None:
        raise RuntimeError("bug")

    assert tick(app, JobSpec("boom", boom, every_seconds=1), "me")  # logged; the next tick runs again
    with app.app_context():
        assert lease.heartbeat() is not None


def test_the_cli_runs_once_and_refuses_while_another_scheduler_runs(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["scheduler", "status"])
    assert result.exit_code == 1 and "no scheduler has ever run" in result.output
    result = runner.invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 0, result.output
    jobs = "outbox, tallies, confirm_link_posts, refresh_followers, waves, reminders, pledges, post_metrics, retention"
    assert f"Ran {jobs}." in result.output
    with app.app_context():
        assert lease.hold("elsewhere", utcnow())  # the --once run let the lease go; another one takes it
    result = runner.invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 1 and "another scheduler holds the lease" in result.output
    assert "ticking: elsewhere" in runner.invoke(args=["scheduler", "status"]).output


def test_staff_who_build_campaigns_see_when_nothing_ticks(
    app: Flask, client: FlaskClient, make_org: Any, make_user: Any
) -> None:
    organisation = make_org()
    login(client, make_user(organisation))
    assert "No scheduler has run yet" in client.get("/admin/campaigns?lang=en").text
    with app.app_context():
        lease.hold("embedded", utcnow())
    assert "No scheduler" not in client.get("/admin/campaigns?lang=en").text
    with app.app_context():
        lease.hold("embedded", utcnow() - timedelta(minutes=5))  # its last tick, five minutes ago
    page = client.get("/admin/campaigns?lang=en").text
    assert "No scheduler has run since" in page and "posts through connected accounts wait" in page
    assert "make run" not in page  # organisers are not told to run commands
    analyst = app.test_client()
    login(analyst, make_user(organisation, Role.ANALYST))
    assert "No scheduler" not in analyst.get("/admin/campaigns?lang=en").text
    with app.app_context():
        db.session.remove()


def test_two_scheduler_processes_one_ticks_the_other_takes_over_when_it_is_killed(tmp_path: Any) -> None:
    """Real processes on one database: the second waits while the first lives, and replaces it after SIGKILL."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from app import create_app
    from scheduler.models import SchedulerLease

    root = Path(__file__).resolve().parent.parent
    database = f"sqlite:///{tmp_path / 'two.db'}"
    env = {
        **os.environ,
        "FLASK_APP": "app",
        "DATABASE_URL": database,
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "two",
        "TOKEN_KEYS": "dGVzdC10b2tlbi1rZXktb2YtdGhpcnR5LXR3by1ieXQ=",
        "SANDBOX_MOUNT": "false",
        "SCHEDULER_LEASE_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
        "DELIVERY_WORKERS": "1",
    }
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "two"})
    with app.app_context():
        db.create_all()

    def holder_pid() -> int | None:
        """The process holding an unexpired lease, if any."""
        with app.app_context():
            row = db.session.get(SchedulerLease, lease.NAME)
            pid = int(row.holder.split(":")[1]) if row is not None and row.expires_at > utcnow() else None
            db.session.remove()
        return pid

    def held_by(pid: int, seconds: float) -> bool:
        return eventually(lambda: holder_pid() == pid, seconds)

    flask = [sys.executable, "-m", "flask", "scheduler", "run"]
    first = subprocess.Popen(flask, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = None
    try:
        assert held_by(first.pid, 20)
        second = subprocess.Popen(flask, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(4)  # longer than a lease: the second would have taken it, had the first not renewed it
        assert holder_pid() == first.pid
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert held_by(second.pid, 15)  # the lease (3 s here, 45 s by default) ran out, and the second took it
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        with app.app_context():
            db.engine.dispose()
