"""The mounted sandbox's control pages and API behind a staff login of the app it is mounted in.

The mailbox holds every confirmation, unsubscribe and reminder link, and the control API resets and
reconfigures the networks: on a rehearsal site open to the public, only the organisation's staff may
read or change them. The network stand-ins stay open (the app calls them server to server, and
supporters land on their consent and post pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask
from flask_login import current_user

from sandbox import is_control_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class StaffOnly:
    """WSGI middleware: a control path sends a browser to the sign-in page (and back), and answers an API
    call 401, unless staff is signed in."""

    def __init__(self, sandbox: WSGIApplication, app: Flask) -> None:
        self.sandbox = sandbox
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if is_control_path(path) and not self._is_staff(environ):
            mount = environ.get("SCRIPT_NAME", "")
            login = f"{mount.removesuffix('/sandbox')}/login?{urlencode({'next': mount + (path or '/')})}"
            if environ.get("REQUEST_METHOD") == "GET" and "text/html" in environ.get("HTTP_ACCEPT", ""):
                start_response("302 Found", [("Location", login), ("Content-Length", "0")])
                return [b""]
            body = b'{"error": "staff only: sign in to the app first"}'
            start_response(
                "401 Unauthorized", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return self.sandbox(environ, start_response)

    def _is_staff(self, environ: dict[str, Any]) -> bool:
        """Read the app's own session (or remember-me) cookie, as the app's pages would."""
        copy = dict(environ)
        copy["SCRIPT_NAME"], copy["PATH_INFO"] = "", "/login"
        with self.app.request_context(copy):
            return bool(current_user.is_authenticated)
