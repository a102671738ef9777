"""`flask accounts …`: staff accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from accounts.models import Role
from accounts.services import AccountError, create_user, get_or_create_organisation
from extensions import db

accounts_cli = AppGroup("accounts", help="Manage organisations and staff accounts.")


@accounts_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", default="", help="Display name (defaults to the e-mail).")
@click.option("--organisation", required=True, help="Organisation name; created if it does not exist.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.ORGANISER.value, show_default=True)
@click.password_option(help="Prompted for when not given.")
def create_user_command(email: str, name: str, organisation: str, role: str, password: str) -> None:
    """Create a staff user in an organisation."""
    try:
        org = get_or_create_organisation(organisation)
        user = create_user(organisation=org, email=email, name=name, password=password, role=Role(role))
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.email} in {org.name}.")
