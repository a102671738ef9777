"""`flask scheduler run` and `flask scheduler status`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from database import utcnow
from extensions import db
from scheduler import JobRegistry, lease
from scheduler.models import SchedulerLease
from scheduler.runner import run_forever, tick

scheduler_cli = AppGroup("scheduler", help="The periodic jobs and the delivery outbox.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="Tick every job once if no other scheduler holds the lease, then exit.")
def run_command(once: bool) -> None:
    """Run the scheduler (one at a time: a second one waits, and takes over within a minute of the first's end)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not once:
        click.echo("Scheduler running (Ctrl+C to stop); another one running elsewhere makes this one wait.")
        run_forever(app)
        return
    holder = lease.new_holder()
    registry: JobRegistry = app.extensions["porte_voix_jobs"]
    ran = [job.name for job in registry if tick(app, job, holder)]
    if not ran:
        raise click.ClickException("another scheduler holds the lease: nothing was run")
    lease.release(holder, utcnow())
    click.echo(f"Ran {', '.join(ran)}.")


@scheduler_cli.command("status")
def status_command() -> None:
    """Which scheduler holds the lease, and when it last ticked."""
    row = db.session.get(SchedulerLease, lease.NAME)
    if row is None:
        raise click.ClickException("no scheduler has ever run: start `flask scheduler run` (or `make run`)")
    now = utcnow()
    state = "stale" if lease.is_stale(now) else "ticking"
    click.echo(
        f"{state}: {row.holder}, last tick {int((now - row.heartbeat_at).total_seconds())} s ago, "
        f"lease until {row.expires_at:%H:%M:%S} UTC"
    )
