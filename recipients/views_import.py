"""Import pages: upload, map a CSV's columns, follow the dry run, read its report, then import."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts import audit
from accounts.audit import Act
from accounts.permissions import current_organisation_id, editor_required
from database import utcnow
from extensions import db
from recipients import jobs
from recipients.formats import Problem, registry
from recipients.formats.detect import detect
from recipients.formats.mapped_csv import (
    LAYOUT,
    TARGET_FIELDS,
    guess_mapping,
    guess_problems,
    mapping_problems,
    parse_table,
)
from recipients.forms import ImportForm, role_choices
from recipients.importer import ImportReport
from recipients.mappings import find_mapping, save_mapping
from recipients.models import ImportRun, ImportState, TargetRole
from recipients.postcodes import POSTCODE_FORMAT
from recipients.reading import FileProblem, decode, read_csv

bp = Blueprint("recipient_imports", __name__, url_prefix="/admin/targets")
PREVIEW_ROWS = 8


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None or run.organisation_id != current_organisation_id() or run.file_format == POSTCODE_FORMAT:
        abort(404)
    return run


def _format_choices() -> list[tuple[str, str]]:
    return [("auto", _("Detect automatically"))] + [(key, str(f.label)) for key, f in registry().items()]


@bp.route("/import", methods=["GET", "POST"])
@editor_required
def new() -> Response | str:
    form = ImportForm()
    form.file_format.choices = _format_choices()
    if form.validate_on_submit():
        data = form.file.data.read()
        extra = form.extra_file.data.read() if form.extra_file.data else b""
        filename = form.file.data.filename or ""
        file_format = form.file_format.data
        if file_format == "auto":
            try:
                file_format = detect(filename, decode(data).text) or "layout"
            except FileProblem:
                file_format = "layout"  # its parser names the problem in the report
        chosen = registry()[file_format]
        run = ImportRun(
            organisation_id=current_organisation_id(),
            user_id=current_user.id,
            file_format=file_format,
            filename=filename[:255],
            data=data,
            extra_filename=(form.extra_file.data.filename or "")[:255] if extra else "",
            extra_data=extra,
            source=(form.source.data or "").strip(),  # empty: the check names the format's for the file's chamber
            list_name=(form.list_name.data or "").strip(),
            options={"locale": str(get_locale() or "fr"), "retire": bool(form.retire.data)},
            state=ImportState.MAPPING if chosen.needs_mapping else ImportState.CHECKING,
        )
        db.session.add(run)
        db.session.commit()
        if chosen.needs_mapping:
            return redirect(url_for(".mapping", run_id=run.id))
        jobs.start(run.id)
        return redirect(url_for(".show", run_id=run.id))
    recent = db.session.scalars(
        select(ImportRun)
        .where(ImportRun.organisation_id == current_organisation_id(), ImportRun.file_format != POSTCODE_FORMAT)
        .order_by(ImportRun.id.desc())
        .limit(15)
    ).all()
    return render_template("recipients/import.html", form=form, columns=LAYOUT, recent=recent, formats=registry())


def _report(run: ImportRun) -> ImportReport | None:
    return ImportReport.from_dict(run.report) if run.report else None


@bp.route("/imports/<int:run_id>")
@login_required
def show(run_id: int) -> str:
    run = _run_or_404(run_id)
    return render_template(
        "recipients/import_run.html",
        run=run,
        report=_report(run),
        formats=registry(),
        stalled=run.is_stalled(utcnow()),
    )


@bp.route("/imports/<int:run_id>.json")
@login_required
def status(run_id: int) -> Response:
    """What the run page polls while the job works."""
    run = _run_or_404(run_id)
    return jsonify(state=run.state.value, processed=max(run.processed, 0), total=run.total, busy=run.is_busy)


@bp.route("/imports/<int:run_id>/confirm", methods=["POST"])
@editor_required
def confirm(run_id: int) -> Response:
    run = _run_or_404(run_id)
    if run.state is not ImportState.CHECKED:
        flash(_("This import cannot be started from its current state."), "error")
        return redirect(url_for(".show", run_id=run.id))
    run.state = ImportState.IMPORTING
    run.processed = 0
    audit.record(
        Act.IMPORT_RUN, organisation_id=run.organisation_id, actor=current_user, subject=run.filename, detail=run.source
    )
    db.session.commit()
    jobs.start(run.id)
    return redirect(url_for(".show", run_id=run.id))


@bp.route("/imports/<int:run_id>/discard", methods=["POST"])
@editor_required
def discard(run_id: int) -> Response:
    run = _run_or_404(run_id)
    stoppable = (ImportState.MAPPING, ImportState.CHECKED, ImportState.FAILED)
    if run.state in stoppable or run.is_stalled(utcnow()):
        run.state = ImportState.DISCARDED
        run.data = run.extra_data = b""
        db.session.commit()
        flash(_("Import discarded; nothing was written."), "success")
    return redirect(url_for(".new"))


def _mapping_from_form(header: list[str]) -> dict[str, str]:
    return {column: request.form.get(f"col-{index}", "") for index, column in enumerate(header)}


@bp.route("/imports/<int:run_id>/mapping", methods=["GET", "POST"])
@editor_required
def mapping(run_id: int) -> Response | str:
    """Map each column of a CSV to a field, see the first rows read that way, then check the whole file."""
    run = _run_or_404(run_id)
    if run.state is not ImportState.MAPPING:
        return redirect(url_for(".show", run_id=run.id))
    try:
        table = read_csv(decode(run.data).text)
        rows = sum(1 for _record in table.records())  # reads it all once: a broken record fails here
    except FileProblem as exc:
        report = ImportReport(file_format=run.file_format)
        report.add_problems([Problem("", "", str(exc))])
        run.state, run.report, run.data = ImportState.FAILED, report.as_dict(), b""
        db.session.commit()
        return redirect(url_for(".show", run_id=run.id))
    organisation_id = current_organisation_id()
    saved = find_mapping(organisation_id, table.header)
    columns: dict[str, str] = dict(
        run.options.get("mapping") or (saved.columns if saved else guess_mapping(table.header))
    )
    role = run.options.get("role") or (saved.role.value if saved and saved.role else "")
    problems: list[str] = []
    if request.method == "POST":
        columns = _mapping_from_form(table.header)
        role = request.form.get("role", "")
        chosen_role = TargetRole(role) if role in TargetRole._value2member_map_ else None
        problems = mapping_problems(columns, chosen_role)
        run.options = run.options | {"mapping": columns, "role": role}
        if not problems and request.form.get("action") == "check":
            save_as = request.form.get("save_as", "").strip()
            if save_as:
                save_mapping(organisation_id, save_as, columns, chosen_role)
            run.state = ImportState.CHECKING
            run.processed = 0
            db.session.commit()
            jobs.start(run.id)
            return redirect(url_for(".show", run_id=run.id))
        db.session.commit()
    chosen_role = TargetRole(role) if role in TargetRole._value2member_map_ else None
    if not problems:
        guessed = request.method == "GET" and not run.options.get("mapping") and saved is None
        problems = (guess_problems(table.header) if guessed else []) + mapping_problems(columns, chosen_role)
    preview = None
    if not problems:
        preview = parse_table(table, columns, role=chosen_role, limit=PREVIEW_ROWS)
    samples = {
        column: [record[i] for _line, record in table.head(3) if i < len(record)]
        for i, column in enumerate(table.header)
    }
    return render_template(
        "recipients/import_mapping.html",
        run=run,
        header=table.header,
        samples=samples,
        columns=columns,
        fields=TARGET_FIELDS,
        role=role,
        roles=role_choices(blank=_("Taken from a column")),
        problems=problems,
        preview=preview,
        rows=rows,
        saved=saved,
    )


@bp.app_context_processor
def _import_limits() -> dict[str, Any]:
    return {"max_upload_mb": round(current_app.config["MAX_CONTENT_LENGTH"] / 1_048_576)}
