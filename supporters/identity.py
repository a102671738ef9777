"""Who the supporter is in this request: the id kept in their session cookie once they connected an account."""

from __future__ import annotations

from flask import session


def current_supporter_id() -> int | None:
    value = session.get("supporter")
    return value if isinstance(value, int) else None
