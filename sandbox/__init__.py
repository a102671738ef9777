"""Local stand-ins for the X, Mastodon and Bluesky APIs: tests, the demo and rehearsals post here.

`create_sandbox()` builds a WSGI app of its own (not a blueprint of ours: it plays other servers).
Embedded mode mounts it at `/sandbox`; `flask sandbox serve` runs it alone; tests run it on
127.0.0.1 in a thread (`sandbox.server.SandboxServer`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from sandbox.state import Clock, Knobs, State

__all__ = ["Clock", "Knobs", "State", "create_sandbox"]

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
    return app
