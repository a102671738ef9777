"""Local stand-ins for the X, Mastodon and Bluesky APIs: tests, the demo and rehearsals post here.

`create_sandbox()` builds a WSGI app of its own (not a blueprint of ours: it plays other servers).
Embedded mode mounts it at `/sandbox`; `flask sandbox serve` runs it alone; tests run it on
127.0.0.1 in a thread (`sandbox.server.SandboxServer`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.wrappers import Response

from sandbox.state import Clock, Knobs, State

__all__ = ["Clock", "Knobs", "State", "create_sandbox"]
# Its pages run no script; the mail reader's HTML part is shown in a sandboxed frame with its inline styles.
CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_sandbox(state: State | None = None) -> Flask:
    """The sandbox app, over `state` (a fresh one by default; tests keep theirs to move its clock)."""
    from sandbox import bluesky, control, mastodon, x

    app = Flask("sandbox", template_folder=str(TEMPLATES), static_folder=None)
    app.config["SANDBOX_STATE"] = state or State()
    app.register_blueprint(control.bp)
    app.register_blueprint(x.bp, url_prefix="/x")
    app.register_blueprint(mastodon.bp, url_prefix="/mastodon/<instance>")
    app.register_blueprint(bluesky.bp, url_prefix="/bluesky")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app


def is_control_path(path: str) -> bool:
    """The sandbox's own pages and control API (mailbox, knobs, reset, what was posted), as opposed to the
    networks it stands in for, which the app calls without a login and supporters see as a network's pages."""
    return path in ("", "/") or path.startswith("/__sandbox__")
