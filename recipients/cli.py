"""`flask recipients …`: import targets and postcode data."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from accounts.models import Organisation
from extensions import db
from recipients.importer import import_targets
from recipients.services import replace_postcodes

recipients_cli = AppGroup("recipients", help="Import targets and postcode data.")


@recipients_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organisation", required=True, help="The organisation that owns the targets.")
@click.option("--source", default="csv", show_default=True, help="Source name; re-imports match on it.")
@click.option("--list", "list_name", default="", help="Add the targets to this list (created if new).")
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
def import_command(path: Path, organisation: str, source: str, list_name: str, dry_run: bool) -> None:
    """Import targets from a CSV in the project's layout (see README). All rows or none."""
    org = db.session.scalar(select(Organisation).where(Organisation.name == organisation))
    if org is None:
        raise click.ClickException(f"no organisation named {organisation!r}")
    report = import_targets(org.id, path.read_bytes(), source=source, list_name=list_name, dry_run=dry_run)
    if not report.ok:
        db.session.rollback()
        for error in report.errors:
            where = f"line {error.line}" if error.line else "file"
            column = f", column {error.column}" if error.column else ""
            click.echo(f"{path.name}: {where}{column}: {error.message}", err=True)
        raise click.ClickException(f"{len(report.errors)} error(s); nothing was imported")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{report.rows} rows: {report.created} {verb} created, {report.updated} updated, {report.unchanged} unchanged."
    )


@recipients_cli.command("import-postcodes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_postcodes_command(path: Path) -> None:
    """Replace the postcode map with a JSON file {"75001": ["7501"], …}."""
    try:
        mapping = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path.name}: not a JSON file: {exc}") from exc
    if not isinstance(mapping, dict) or not all(
        isinstance(codes, list) and all(isinstance(code, str) for code in codes) for codes in mapping.values()
    ):
        raise click.ClickException(f"{path.name}: expected an object of postcode → list of constituency codes")
    rows = replace_postcodes(mapping)
    db.session.commit()
    click.echo(f"{len(mapping)} postcodes, {rows} postcode-constituency pairs.")
