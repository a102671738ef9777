"""Import runs as background work: the dry run, then the import, each reporting progress in its row.

In embedded mode a small thread pool of this process runs them; with TESTING
they run inside the request, so tests see the end state at once. A run is claimed by moving its
state with a conditional UPDATE, so a second worker that picks up the same run does nothing.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import update

from database import utcnow
from extensions import db
from recipients.formats import Problem
from recipients.importer import ImportReport, import_targets
from recipients.models import ImportRun, ImportState

logger = logging.getLogger(__name__)
EXTENSION = "porte_voix_imports"
SOURCE_LOCALE = "en"  # the catalogue's msgids


def start(run_id: int) -> None:
    """Run the run's next step (check or import) now in tests, else in the background."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("TESTING"):
        process(run_id)
        return
    # Created on first use, not in the factory: the factory starts no threads.
    executor = app.extensions.setdefault(EXTENSION, ThreadPoolExecutor(max_workers=2, thread_name_prefix="import"))
    executor.submit(_in_app, app, run_id)


def _in_app(app: Flask, run_id: int) -> None:
    with app.app_context():
        try:
            process(run_id)
        finally:
            db.session.remove()


def _claim(run_id: int, state: ImportState) -> bool:
    """Mark the run as taken by this worker; False when another worker got there first."""
    result = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.state == state, ImportRun.processed == 0)
        .values(processed=-1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(getattr(result, "rowcount", 0))


def process(run_id: int) -> None:
    """Check or import one run. Safe to call twice: the second call finds the run claimed and returns."""
    run = db.session.get(ImportRun, run_id)
    if run is None or not run.is_busy or not _claim(run_id, run.state):
        return
    db.session.refresh(run)
    # The report is kept in the source language; each reader gets it in theirs (`i18n.translate_stored`).
    with force_locale(SOURCE_LOCALE):
        try:
            _process(run)
        except Exception:
            logger.exception("import run %s crashed", run_id)
            db.session.rollback()
            run = db.session.get(ImportRun, run_id)
            if run is not None:
                report = ImportReport(file_format=run.file_format)
                report.add_problems(
                    [Problem("", "", _("The import stopped on an internal error; nothing was written."))]
                )
                _finish(run, ImportState.FAILED, report)
                db.session.commit()


def _progress(run: ImportRun) -> Any:
    def report(done: int, total: int) -> None:
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run.id)
            .values(processed=done, total=total, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    return report


def _process(run: ImportRun) -> None:
    importing = run.state is ImportState.IMPORTING
    options = {key: value for key, value in run.options.items() if key in ("mapping", "role")}
    report = import_targets(
        run.organisation_id,
        run.data,
        file_format=run.file_format,
        filename=run.filename,
        source=run.source,
        list_name=run.list_name,
        dry_run=not importing,
        extra=run.extra_data,
        options=options,
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        retire=bool(run.options.get("retire", True)),
        progress=_progress(run),
    )
    if not report.ok:
        db.session.rollback()
        _finish(run, ImportState.FAILED, report)
    else:
        _finish(run, ImportState.DONE if importing else ImportState.CHECKED, report)
    db.session.commit()  # the targets and the run's report land together


def _finish(run: ImportRun, state: ImportState, report: ImportReport) -> None:
    run.state = state
    run.report = report.as_dict()
    run.source = report.source or run.source
    run.processed = run.total = report.rows
    if state is not ImportState.CHECKED:
        run.data = run.extra_data = b""
        run.finished_at = utcnow()
