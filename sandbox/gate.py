"""The mounted sandbox's control pages and API behind a staff login of the app it is mounted in.

The mailbox holds every confirmation, unsubscribe and reminder link, and the control API resets and
reconfigures the networks: on a rehearsal site open to the public, only the organisation's staff may
read or change them. The network stand-ins stay open (the app calls them server to server, and
supporters land on their consent and post pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_login import current_user

from sandbox import is_control_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class StaffOnly:
    """WSGI middleware: a control path answers 401 and a link to the sign-in page unless staff is signed in."""

    def __init__(self, sandbox: WSGIApplication, app: Flask) -> None:
        self.sandbox = sandbox
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if is_control_path(environ.get("PATH_INFO", "")) and not self._is_staff(environ):
            login = f"{environ.get('SCRIPT_NAME', '').removesuffix('/sandbox')}/login"
            body = f'<!doctype html><title>Sign in</title><p>Staff only: <a href="{login}">sign in</a>.</p>'.encode()
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return self.sandbox(environ, start_response)

    def _is_staff(self, environ: dict[str, Any]) -> bool:
        """Read the app's own session (or remember-me) cookie, as the app's pages would."""
        copy = dict(environ)
        copy["SCRIPT_NAME"], copy["PATH_INFO"] = "", "/login"
        with self.app.request_context(copy):
            return bool(current_user.is_authenticated)
