"""Words for a target's role, in the reader's language."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from recipients.models import ImportState, TargetRole
from recipients.places import department_label, group_label

ROLE_LABELS = {
    TargetRole.DEPUTY: _l("Deputy"),
    TargetRole.SENATOR: _l("Senator"),
    TargetRole.MINISTER: _l("Minister"),
    TargetRole.MEP: _l("Member of the European Parliament"),
    TargetRole.REPRESENTATIVE: _l("Representative"),
    TargetRole.OTHER: _l("Other"),
}


def role_label(role: TargetRole) -> str:
    return str(ROLE_LABELS[role])


FIELD_LABELS = {
    "role": _l("role"),
    "title": _l("title"),
    "chamber": _l("chamber"),
    "first_name": _l("first name"),
    "last_name": _l("last name"),
    "gender": _l("gender"),
    "group_name": _l("group"),
    "constituency": _l("constituency"),
    "constituency_code": _l("constituency code"),
    "department": _l("department"),
    "committees": _l("committees"),
    "handle_x": "X",
    "handle_bluesky": "Bluesky",
    "handle_mastodon": "Mastodon",
    "email": _l("e-mail"),
    "salutation": _l("salutation"),
    "is_active": _l("active"),
}
IMPORT_STATE_LABELS = {
    ImportState.MAPPING: _l("columns to map"),
    ImportState.CHECKING: _l("checking"),
    ImportState.CHECKED: _l("checked, waiting for you"),
    ImportState.IMPORTING: _l("importing"),
    ImportState.DONE: _l("imported"),
    ImportState.FAILED: _l("refused"),
    ImportState.DISCARDED: _l("discarded"),
}


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


def import_state_label(state: ImportState) -> str:
    return str(IMPORT_STATE_LABELS[state])


def _datetime(value: datetime | None) -> str:
    return format_datetime(value, "short") if value else ""


def init_app(app: Flask) -> None:
    app.add_template_global(role_label)
    app.add_template_global(import_state_label)
    app.add_template_filter(field_label)
    app.add_template_filter(_datetime, "datetime")
    app.add_template_filter(department_label)
    app.add_template_filter(group_label)
