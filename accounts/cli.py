"""`flask accounts …`: organisations and staff accounts from the command line (the instance's first admin)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from accounts.models import Role
from accounts.organisations import create_organisation
from accounts.services import AccountError, create_user, get_or_create_organisation
from database import utcnow
from extensions import db

accounts_cli = AppGroup("accounts", help="Manage organisations and staff accounts.")


@accounts_cli.command("create-organisation")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--admin-email", required=True, help="Its first admin's e-mail.")
@click.option("--admin-name", default="", help="Their display name (defaults to the e-mail).")
@click.option("--instance-admin", is_flag=True, help="The admin may also create organisations (the instance's own).")
@click.password_option(help="The admin's password; prompted for when not given.")
def create_organisation_command(
    name: str, admin_email: str, admin_name: str, instance_admin: bool, password: str
) -> None:
    """Create an organisation and its first admin."""
    try:
        organisation = create_organisation(name, now=utcnow())
        admin = create_user(
            organisation=organisation, email=admin_email, name=admin_name, password=password, role=Role.ADMIN
        )
        admin.is_instance_admin = instance_admin
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {organisation.name} (privacy page /privacy/{organisation.slug}) and its admin {admin.email}.")


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
