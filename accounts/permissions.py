"""Who may do what: staff see only their organisation's data; analysts only read."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])


def editor_required(view: F) -> F:
    """Signed-in organisers and admins only; analysts get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.can_edit:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def current_organisation_id() -> int:
    return int(current_user.organisation_id)
