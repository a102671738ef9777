"""`flask recipients …`: import targets and the postcode map, check constituency coverage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from accounts.models import Organisation
from extensions import db
from recipients.coverage import constituency_coverage
from recipients.formats import Problem, registry
from recipients.formats.detect import detect
from recipients.formats.mapped_csv import TARGET_FIELDS, effective_mapping
from recipients.importer import ImportReport, import_targets
from recipients.postcodes import import_postcodes
from recipients.reading import FileProblem, decode, read_csv

recipients_cli = AppGroup("recipients", help="Import targets and postcode data.")


def _organisation(name: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise click.ClickException(f"no organisation named {name!r}")
    return org


def _echo_problems(label: str, problems: list[Problem]) -> None:
    for problem in problems:
        where = problem.where or "file"
        column = f", {problem.field}" if problem.field else ""
        kind = "error" if problem.is_error else "warning"
        click.echo(f"{label}: {where}{column}: {kind}: {problem.message}", err=True)


def _summary(report: ImportReport) -> str:
    verb = "would be" if report.dry_run else "were"
    text = (
        f"{report.rows} rows: {report.created} {verb} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.retired} retired"
    )
    return text + (f", {report.skipped} skipped." if report.skipped else ".")


@recipients_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organisation", required=True, help="The organisation that owns the targets.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["auto", *registry()]),
    default="auto",
    show_default=True,
    help="The file's format; auto detects it.",
)
@click.option("--source", default="", help="Source name; re-imports match on it. Default: the format's.")
@click.option("--list", "list_name", default="", help="Add the targets to this static list (created if new).")
@click.option("--social", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="US social-media YAML.")
@click.option("--mapping", "mapping_json", default="", help='For --format mapped-csv: {"column": "field", …}.')
@click.option("--role", default="", help="For --format mapped-csv without a role column: every row's role.")
@click.option("--keep-missing", is_flag=True, help="Do not retire targets of this source that the file lacks.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
def import_command(
    path: Path,
    organisation: str,
    file_format: str,
    source: str,
    list_name: str,
    social: Path | None,
    mapping_json: str,
    role: str,
    keep_missing: bool,
    dry_run: bool,
) -> None:
    """Import targets from a file in any format the importer reads. All rows or none."""
    org = _organisation(organisation)
    options: dict[str, object] = {}
    data = path.read_bytes()
    if mapping_json:
        options["mapping"] = _mapping_option(mapping_json)
    if role:
        options["role"] = role
    if file_format == "auto":
        try:
            file_format = "mapped-csv" if mapping_json else detect(path.name, decode(data).text) or "auto"
        except FileProblem:
            pass  # the import names the file's problem
    if file_format == "mapped-csv":
        _echo_mapping(path.name, data, options.get("mapping"))  # type: ignore[arg-type]
    with click.progressbar(length=0, label=f"Checking {path.name}", file=sys.stderr) as bar:
        done = 0

        def advance(processed: int, total: int) -> None:
            nonlocal done
            bar.length = total  # known once the file is parsed
            bar.update(processed - done)
            done = processed

        report = import_targets(
            org.id,
            data,
            file_format=file_format,
            filename=path.name,
            source=source,
            list_name=list_name,
            dry_run=dry_run,
            extra=social.read_bytes() if social else b"",
            options=options,
            max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
            retire=not keep_missing,
            progress=advance,
        )
    _echo_problems(path.name, report.problems)
    if not report.ok:
        db.session.rollback()
        raise click.ClickException(f"{report.error_count} error(s); nothing was imported")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(f"{path.name} ({report.file_format}, {report.encoding}): {_summary(report)}")


def _mapping_option(text: str) -> dict[str, str]:
    """--mapping as a JSON object of column → field, or a clear error naming what is wrong."""
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--mapping is not JSON ({exc.msg} at character {exc.pos}): {text!r}") from exc
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise click.ClickException(
            '--mapping must be a JSON object of "file column": "field", e.g. {"Nom": "last_name"}'
        )
    unknown = sorted({field for field in mapping.values() if field and field not in TARGET_FIELDS})
    if unknown:
        raise click.ClickException(
            f"--mapping: unknown field(s) {', '.join(unknown)}; the fields are: {', '.join(TARGET_FIELDS)}"
        )
    return mapping


def _echo_mapping(name: str, data: bytes, mapping: dict[str, str] | None) -> None:
    """The mapping the import applies, column by column: never a silent guess."""
    try:
        header = read_csv(decode(data).text).header
    except FileProblem:
        return  # the import reports the file's problem itself
    used, _problems = effective_mapping(header, mapping)
    origin = "given" if mapping else "guessed from the header; pass --mapping to change it"
    click.echo(f"{name}: mapping ({origin}):", err=True)
    for column in header:
        click.echo(f"  {column!r} → {used.get(column) or '(ignored)'}", err=True)


@recipients_cli.command("import-postcodes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organisation", required=True, help="The organisation whose map it is.")
@click.option("--keep", is_flag=True, help="Keep today's postcodes that the file does not hold.")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change; write nothing.")
def import_postcodes_command(path: Path, organisation: str, keep: bool, dry_run: bool) -> None:
    """Replace an organisation's postcode map with a JSON file {"75001": ["7501"], …} (Z-codes understood),
    saying what changes; with --keep, the file completes today's map instead."""
    report = import_postcodes(
        _organisation(organisation).id,
        path.read_bytes(),
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        dry_run=dry_run,
        keep=keep,
    )
    if not report.ok:
        _echo_problems(path.name, report.problems)
        raise click.ClickException(f"{len(report.problems)} error(s); nothing was loaded")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(
        f"{report.postcodes} postcodes, {report.pairs} postcode-constituency pairs, {report.spanning} spanning several."
    )
    removed = "kept" if keep else "removed"
    click.echo(
        f"{'Would change' if dry_run else 'Changed'}: {report.added} new, {report.changed} with other constituencies, "
        f"{report.removed} {removed} (today's map had {report.current})."
    )
    if report.removed and not keep:
        click.echo(f"Removed postcodes include: {', '.join(report.samples['removed'])}", err=True)


@recipients_cli.command("coverage")
@click.option("--organisation", required=True)
def coverage_command(organisation: str) -> None:
    """Say which constituencies of the postcode map have no active deputy, or several."""
    coverage = constituency_coverage(_organisation(organisation).id)
    click.echo(f"{coverage.resolved} of {coverage.constituencies} constituencies have exactly one active deputy.")
    if coverage.vacant:
        click.echo("Without a deputy: " + ", ".join(coverage.vacant))
    for code, names in coverage.shared.items():
        click.echo(f"Several deputies on {code}: {', '.join(names)}")
