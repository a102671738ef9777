"""`flask demo seed`: the demo campaign and logins that `make run` prints."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaign.fold import fold_tallies
from demo.seed import DEMO_PASSWORD_NOTE, seed_demo
from extensions import db

demo_cli = AppGroup("demo", help="The demo campaign.")


@demo_cli.command("seed")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="Where the app will be served.")
def seed_command(url: str) -> None:
    """Create the demo organisation, logins and live campaign (idempotent) and print how to log in."""
    result = seed_demo()
    db.session.commit()
    fold_tallies()  # the dashboards count the invented history at once
    state = "created" if result.created else "already there"
    click.echo(f"Demo campaign {state}: {url}/c/{result.campaign.slug}")
    click.echo(f"Staff pages: {url}/login")
    for email, password, role in result.logins:
        click.echo(f"  {role.value:<10} {email} / {password}")
    click.echo(f"  ({DEMO_PASSWORD_NOTE})")
    click.echo(
        f"Sandbox networks: {url}/sandbox/ (staff sign-in; connect any X, Bluesky or Mastodon name;"
        " nothing leaves this machine)"
    )
    click.echo(f"A demo wave opens within minutes; its reminders land in the sandbox's mailbox: {url}/sandbox/#mailbox")
    click.echo(f"Analytics (five days of invented activity to read): {url}/admin/analytics")
