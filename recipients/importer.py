"""Bring a file's targets in: read, check every row, then upsert all of them or none.

Re-import is an update: targets match on (organisation, source, external id). A second import of
the same file changes nothing; a newer one reports what was created, which fields changed, what
stayed the same, and who was retired (kept inactive, never deleted, so their history stays).
Writes are bulk statements, so 50,000 rows stay a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import Table, insert, select, update

from database import utcnow
from extensions import db
from recipients.formats import FIELDS, Parsed, Problem, TargetRow, registry
from recipients.formats.detect import detect
from recipients.models import Gender, Recipient, RecipientList, TargetRole, recipient_list_member
from recipients.reading import FileProblem, check_size, decode
from recipients.signals import notify_targets_changed

Progress = Callable[[int, int], None]
DETAIL_LIMIT = 200  # names kept per list in a report; the counts stay exact
PROBLEM_LIMIT = 500
PROGRESS_EVERY = 500
DEFAULTS: dict[str, Any] = {
    "title": "",
    "chamber": "",
    "first_name": "",
    "gender": None,
    "group_name": "",
    "constituency": "",
    "constituency_code": "",
    "department": "",
    "committees": [],
    "handle_x": None,
    "handle_bluesky": None,
    "handle_mastodon": None,
    "email": None,
    "salutation": "",
    "is_active": True,
}


@dataclass
class ImportReport:
    """What an import did, or would do in a dry run. Serialises to JSON for the import page."""

    file_format: str = ""
    encoding: str = "utf-8"
    dry_run: bool = False
    source: str = ""  # what the targets are matched on: the one named, or the format's for this chamber
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    created_names: list[str] = field(default_factory=list)
    updated_fields: list[tuple[str, list[str]]] = field(default_factory=list)
    retired_names: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def add_problems(self, problems: list[Problem]) -> None:
        for problem in problems:
            if problem.is_error:
                self.error_count += 1
            else:
                self.warning_count += 1
        # Errors first: with thousands of warnings, the errors must still be shown.
        ordered = sorted(problems, key=lambda p: not p.is_error)
        self.problems.extend(ordered[: max(0, PROBLEM_LIMIT - len(self.problems))])

    def as_dict(self) -> dict[str, Any]:
        data = {key: getattr(self, key) for key in self.__dataclass_fields__ if key != "problems"}
        data["problems"] = [p.as_dict() for p in self.problems]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        values = {key: data[key] for key in cls.__dataclass_fields__ if key in data and key != "problems"}
        report = cls(**values)
        report.problems = [Problem(**p) for p in data.get("problems", [])]
        report.updated_fields = [(name, list(fields)) for name, fields in report.updated_fields]
        return report


def read_file(
    data: bytes,
    *,
    file_format: str = "auto",
    filename: str = "",
    max_bytes: int,
    extra: bytes = b"",
    options: dict[str, Any] | None = None,
) -> Parsed:
    """Parse a file in `file_format` ("auto" detects it); a file that cannot be read becomes one error."""
    try:
        check_size(data, max_bytes)
        decoded = decode(data)
        extra_text = ""
        if extra:
            check_size(extra, max_bytes)
            extra_text = decode(extra).text
        key = detect(filename, decoded.text) if file_format == "auto" else file_format
        formats = registry()
        if key not in formats:
            raise FileProblem(_("could not tell this file's format; choose it in the list"))
        parsed = formats[key].parse(decoded.text, extra=extra_text, **(options or {}))
        parsed.encoding = decoded.encoding
        parsed.file_format = key
        if decoded.encoding == "windows-1252":
            parsed.problems.insert(
                0,
                Problem(
                    "",
                    "",
                    _("the file is not UTF-8: it was read as Windows-1252 (Latin-1); check the accents below"),
                    is_error=False,
                ),
            )
        return parsed
    except FileProblem as exc:
        return Parsed(
            [], [Problem("", "", str(exc))], frozenset(), file_format="" if file_format == "auto" else file_format
        )


def _stored(row: tuple[Any, ...], names: list[str]) -> dict[str, Any]:
    return dict(zip(names, row, strict=True))


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, (Gender, TargetRole)) or isinstance(new, (Gender, TargetRole)):
        return getattr(old, "value", old) == getattr(new, "value", new)
    return bool(old == new or (old in (None, "") and new in (None, "")))


def apply_import(
    organisation_id: int,
    parsed: Parsed,
    *,
    source: str = "",
    list_name: str = "",
    dry_run: bool = False,
    retire: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Upsert `parsed` into the organisation's targets. Flushes, never commits.

    With any error nothing is written; with `dry_run` the report is computed and nothing is written.
    An empty `source` is the format's usual one. `retire` makes targets of `source` that the file no
    longer holds inactive (a roster's reshuffle); enrichment files never retire.
    """
    chosen = registry().get(parsed.file_format)
    source = source.strip() or (chosen.source_for(parsed) if chosen else "csv")
    report = ImportReport(
        file_format=parsed.file_format,
        encoding=parsed.encoding,
        dry_run=dry_run,
        rows=len(parsed.rows),
        source=source,
    )
    report.add_problems(parsed.problems)
    if not report.ok or (not parsed.rows and not parsed.problems):
        if report.ok:
            report.add_problems([Problem("", "", _("the file holds no targets"))])
        return report
    provided = [name for name in FIELDS if name in parsed.fields]
    # Names too, whatever the file holds: a report names targets, not only their ids (a file of handles has none).
    columns = [
        Recipient.id,
        Recipient.external_id,
        Recipient.first_name.label("stored_first"),
        Recipient.last_name.label("stored_last"),
        *(getattr(Recipient, name) for name in provided),
    ]
    query = select(*columns).where(Recipient.organisation_id == organisation_id)
    if parsed.enrich:  # by id, whatever the source; in chunks (SQLite caps a statement's parameters)
        ids = sorted({row.external_id for row in parsed.rows})
        queries = [query.where(Recipient.external_id.in_(chunk)) for chunk in _chunks(ids)]
    else:
        queries = [query.where(Recipient.source == source)]
    existing: dict[str, list[dict[str, Any]]] = {}
    for chunk_query in queries:
        for row in db.session.execute(chunk_query):
            stored = _stored(tuple(row), ["id", "external_id", "stored_first", "stored_last", *provided])
            existing.setdefault(stored["external_id"], []).append(stored)

    now = utcnow()
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    kept_ids: list[int] = []
    total = len(parsed.rows)
    for index, target in enumerate(parsed.rows, start=1):
        matches = existing.get(target.external_id, [])
        active = target.values.get("is_active", True)
        if not matches:
            if parsed.enrich or not active:
                report.skipped += 1
                if parsed.enrich:
                    report.add_problems([_unknown_id(target)])
            else:
                report.created += 1
                _keep(report.created_names, target.label)
                values = target.values  # completed when written, a chunk at a time (memory)
                values.update(organisation_id=organisation_id, source=source, external_id=target.external_id)
                creates.append(values)
        for stored in matches:
            label = _label(target, stored)
            changed = [
                name for name in provided if name in target.values and not _same(stored[name], target.values[name])
            ]
            if changed:
                if not active and stored.get("is_active"):
                    report.retired += 1
                    _keep(report.retired_names, label)
                else:
                    report.updated += 1
                    if len(report.updated_fields) < DETAIL_LIMIT:
                        report.updated_fields.append((label, changed))
                updates.append(
                    {"id": stored["id"], "updated_at": now} | {name: target.values[name] for name in changed}
                )
            else:
                report.unchanged += 1
            if active:
                kept_ids.append(stored["id"])
        if progress and (index % PROGRESS_EVERY == 0 or index == total):
            progress(index, total)

    retired_ids: list[int] = []
    if retire and not parsed.enrich:
        in_file = {row.external_id for row in parsed.rows}
        for external_id, matches in existing.items():
            for stored in matches:
                if external_id not in in_file and stored.get("is_active", True):
                    retired_ids.append(stored["id"])
                    report.retired += 1
                    _keep(report.retired_names, _stored_name(stored) or external_id)
    if dry_run:
        return report
    _write(organisation_id, creates, updates, retired_ids, kept_ids, list_name, now)
    return report


def _stored_name(stored: dict[str, Any]) -> str:
    return f"{stored.get('stored_first') or ''} {stored.get('stored_last') or ''}".strip()


def _label(target: TargetRow, stored: dict[str, Any]) -> str:
    """How the report names a target the file matched: by the name we know, with the file's id."""
    name = _stored_name(stored)
    if not name or name == target.label:
        return target.label
    return f"{name} ({target.external_id})" if target.label == target.external_id else target.label


def _unknown_id(target: TargetRow) -> Problem:
    return Problem(
        target.where,
        "id",
        _("no target has the id %(id)s; import the roster first", id=target.external_id),
        is_error=False,
    )


def _keep(names: list[str], name: str) -> None:
    if len(names) < DETAIL_LIMIT:
        names.append(name)


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _write(
    organisation_id: int,
    creates: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    retired_ids: list[int],
    kept_ids: list[int],
    list_name: str,
    now: Any,
) -> None:
    # Core, not the ORM's bulk insert: the ORM groups rows by which values are None, and so sent
    # 50,000 rows as thousands of tiny statements.
    table = cast(Table, Recipient.__table__)
    stamps = {"created_at": now, "updated_at": now}
    for chunk in _chunks(creates, 1000):
        db.session.execute(insert(table), [DEFAULTS | values | stamps for values in chunk])
    by_keys: dict[frozenset[str], list[dict[str, Any]]] = {}
    for values in updates:
        by_keys.setdefault(frozenset(values), []).append(values)
    for group in by_keys.values():
        for chunk in _chunks(group, 1000):
            db.session.execute(update(Recipient), chunk)
    for chunk in _chunks(retired_ids):
        db.session.execute(
            update(Recipient).where(Recipient.id.in_(chunk)).values(is_active=False, updated_at=now),
            execution_options={"synchronize_session": False},
        )
    if list_name.strip():
        add_to_static_list(organisation_id, list_name.strip(), _ids_of(organisation_id, creates) + kept_ids)
    db.session.flush()
    db.session.expire_all()  # bulk statements bypass the identity map
    notify_targets_changed(organisation_id)


def _ids_of(organisation_id: int, creates: list[dict[str, Any]]) -> list[int]:
    """The ids of rows just inserted (a plain executemany: RETURNING row by row is far slower on SQLite)."""
    ids: list[int] = []
    if not creates:
        return ids
    source = creates[0]["source"]
    for chunk in _chunks([values["external_id"] for values in creates], 500):
        ids.extend(
            db.session.scalars(
                select(Recipient.id).where(
                    Recipient.organisation_id == organisation_id,
                    Recipient.source == source,
                    Recipient.external_id.in_(chunk),
                )
            )
        )
    return ids


def add_to_static_list(organisation_id: int, name: str, recipient_ids: list[int]) -> RecipientList:
    """Add targets to the organisation's static list `name`, created if new. Flushes."""
    target_list = db.session.scalar(
        select(RecipientList).where(RecipientList.organisation_id == organisation_id, RecipientList.name == name)
    )
    if target_list is None:
        target_list = RecipientList(organisation_id=organisation_id, name=name)
        db.session.add(target_list)
        db.session.flush()
    members = set(
        db.session.scalars(
            select(recipient_list_member.c.recipient_id).where(
                recipient_list_member.c.recipient_list_id == target_list.id
            )
        )
    )
    new = [
        {"recipient_list_id": target_list.id, "recipient_id": rid}
        for rid in dict.fromkeys(recipient_ids)
        if rid not in members
    ]
    for chunk in _chunks(new, 1000):
        db.session.execute(insert(recipient_list_member), chunk)
    return target_list


def import_targets(
    organisation_id: int,
    data: bytes,
    *,
    source: str = "",
    file_format: str = "auto",
    filename: str = "",
    list_name: str = "",
    dry_run: bool = False,
    extra: bytes = b"",
    options: dict[str, Any] | None = None,
    max_bytes: int = 20 * 1024 * 1024,
    retire: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Read and apply one file: the CLI, the import job and the tests call this. Flushes, never commits."""
    parsed = read_file(
        data, file_format=file_format, filename=filename, max_bytes=max_bytes, extra=extra, options=options
    )
    return apply_import(
        organisation_id,
        parsed,
        source=source,
        list_name=list_name,
        dry_run=dry_run,
        retire=retire,
        progress=progress,
    )
