"""Who may do what: staff see only their organisation's data; analysts only read; admins run the organisation."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])


def _requiring(allowed: Callable[[Any], bool]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not allowed(current_user):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


editor_required = _requiring(lambda user: user.can_edit)  # organisers and admins; analysts get 403
admin_required = _requiring(lambda user: user.is_admin)  # the organisation's admins
instance_admin_required = _requiring(lambda user: user.is_instance_admin)  # who creates organisations


def current_organisation_id() -> int:
    return int(current_user.organisation_id)
