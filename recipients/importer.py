"""Import targets from a CSV in the project's own column layout (README: "Target CSV layout").

All or nothing: every row is checked first; one bad row means nothing is written and the report
names each bad row and field. A second import of the same file changes nothing (upsert by
organisation, source and external id).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from channels import Network, normalise_handle
from extensions import db
from recipients.models import Gender, Recipient, RecipientList, TargetRole

COLUMNS = (
    "external_id",
    "role",
    "last_name",
    "first_name",
    "title",
    "gender",
    "group",
    "constituency",
    "constituency_code",
    "department",
    "committees",
    "x",
    "bluesky",
    "mastodon",
    "email",
    "salutation",
)
REQUIRED = ("external_id", "role", "last_name")
GENDERS = {
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "femme": Gender.FEMALE,
    "m": Gender.MALE,
    "h": Gender.MALE,
    "male": Gender.MALE,
    "homme": Gender.MALE,
}
HANDLE_FIELDS = {"x": Network.X, "bluesky": Network.BLUESKY, "mastodon": Network.MASTODON, "email": Network.EMAIL}
ATTRIBUTE_OF = {"group": "group_name", "x": "handle_x", "bluesky": "handle_bluesky", "mastodon": "handle_mastodon"}
MAX_FIELD = {
    "external_id": 128,
    "last_name": 100,
    "first_name": 100,
    "title": 200,
    "group": 200,
    "constituency": 200,
    "constituency_code": 16,
    "department": 8,
    "salutation": 200,
}


@dataclass(frozen=True)
class RowError:
    line: int  # the line in the file, header = 1; 0 for the file as a whole
    column: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            _("line %(line)d: the file is not UTF-8; save it as CSV UTF-8 and import it again", line=line)
        ) from exc


def _parse_row(values: dict[str, str], line: int, errors: list[RowError]) -> dict[str, object] | None:
    """One row's clean values, or None after adding its errors to `errors`."""
    before = len(errors)
    clean: dict[str, object] = {}
    for column in REQUIRED:
        if not values.get(column):
            errors.append(RowError(line, column, _("required")))
    for column, limit in MAX_FIELD.items():
        if len(values.get(column, "")) > limit:
            errors.append(RowError(line, column, _("longer than %(limit)d characters", limit=limit)))
    role = values.get("role", "").lower()
    if role:
        try:
            clean["role"] = TargetRole(role)
        except ValueError:
            choices = ", ".join(r.value for r in TargetRole)
            message = _("unknown role %(value)s; expected one of %(choices)s", value=repr(role), choices=choices)
            errors.append(RowError(line, "role", message))
    gender = values.get("gender", "").lower()
    if gender and gender not in GENDERS:
        errors.append(
            RowError(line, "gender", _("unknown gender %(value)s; expected F, M or empty", value=repr(gender)))
        )
    clean["gender"] = GENDERS.get(gender)
    for column, network in HANDLE_FIELDS.items():
        raw = values.get(column, "")
        try:
            clean[ATTRIBUTE_OF.get(column, column)] = normalise_handle(network, raw) if raw else None
        except ValueError:
            message = _("not a valid %(network)s address: %(value)s", network=network.label, value=repr(raw))
            errors.append(RowError(line, column, message))
    for column in ("external_id", "last_name", "first_name", "title", "group", "constituency", "salutation"):
        clean[ATTRIBUTE_OF.get(column, column)] = values.get(column, "")
    clean["constituency_code"] = values.get("constituency_code", "").upper()
    clean["department"] = values.get("department", "").upper()
    clean["committees"] = [c.strip() for c in values.get("committees", "").split("|") if c.strip()]
    return clean if len(errors) == before else None


def parse_csv(data: bytes) -> tuple[list[dict[str, object]], list[RowError]]:
    """Parse and check every row; returns the clean rows and the errors (rows are unusable if any)."""
    if not data.strip():
        return [], [RowError(0, "", _("the file is empty"))]
    try:
        text = _decode(data)
    except ValueError as exc:
        return [], [RowError(0, "", str(exc))]
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        return [], [RowError(1, column, _("required column is missing")) for column in missing]
    unknown = [name for name in header if name and name not in COLUMNS]
    if unknown:
        layout = ", ".join(COLUMNS)
        return [], [
            RowError(1, name, _("unknown column; the layout has: %(columns)s", columns=layout)) for name in unknown
        ]
    reader.fieldnames = header
    rows: list[dict[str, object]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if None in record:
                errors.append(RowError(line, "", _("more fields than the header has")))
                continue
            values = {key: (value or "").strip() for key, value in record.items() if key}
            if not any(values.values()):
                continue
            clean = _parse_row(values, line, errors)
            external_id = values.get("external_id", "")
            if external_id in seen:
                errors.append(RowError(line, "external_id", _("duplicate of line %(line)d", line=seen[external_id])))
                continue
            seen[external_id] = line
            if clean is not None:
                rows.append(clean)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", _("unreadable CSV: %(error)s", error=str(exc))))
    if not rows and not errors:
        errors.append(RowError(0, "", _("the file has a header but no rows")))
    return rows, errors


def import_targets(
    organisation_id: int, data: bytes, *, source: str, list_name: str = "", dry_run: bool = False
) -> ImportReport:
    """Upsert the file's targets and add them to `list_name` (created if new). Flushes, never commits.

    With errors nothing is written; with `dry_run` the report is computed and nothing is written either.
    """
    source = source.strip() or "csv"
    rows, errors = parse_csv(data)
    report = ImportReport(rows=len(rows), errors=errors)
    if errors:
        return report
    existing = {
        r.external_id: r
        for r in db.session.scalars(
            select(Recipient).where(Recipient.organisation_id == organisation_id, Recipient.source == source)
        )
    }
    imported: list[Recipient] = []
    for row in rows:
        recipient = existing.get(str(row["external_id"]))
        if recipient is None:
            report.created += 1
            if not dry_run:
                recipient = Recipient(organisation_id=organisation_id, source=source, **row)
                db.session.add(recipient)
                imported.append(recipient)
            continue
        changed = [key for key, value in row.items() if getattr(recipient, key) != value]
        if changed or not recipient.is_active:
            report.updated += 1
            if not dry_run:
                for key in changed:
                    setattr(recipient, key, row[key])
                recipient.is_active = True
        else:
            report.unchanged += 1
        imported.append(recipient)
    if dry_run:
        return report
    if list_name.strip():
        target_list = db.session.scalar(
            select(RecipientList).where(
                RecipientList.organisation_id == organisation_id, RecipientList.name == list_name.strip()
            )
        )
        if target_list is None:
            target_list = RecipientList(organisation_id=organisation_id, name=list_name.strip())
            db.session.add(target_list)
        known = {id(member) for member in target_list.members}
        target_list.members.extend(r for r in imported if id(r) not in known)
    db.session.flush()
    return report
