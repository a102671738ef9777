"""Words for a target's role, in the reader's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from recipients.models import TargetRole

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
