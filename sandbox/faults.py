"""What every sandbox API call goes through: the call count, the latency, and the injected faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from sandbox.state import State


def state() -> State:
    sandbox_state: State = current_app.config["SANDBOX_STATE"]
    return sandbox_state


def api(unavailable: Callable[[], Response]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Count the call, wait the configured latency, and answer `unavailable()` for the drawn share of calls."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            sandbox = state()
            with sandbox.lock:
                sandbox.calls[f"{request.method} {request.path}"] += 1
            if sandbox.knobs.latency_ms:
                time.sleep(sandbox.knobs.latency_ms / 1000)
            if sandbox.draw(sandbox.knobs.error_rate):
                return unavailable()
            return view(*args, **kwargs)

        return wrapped

    return decorate


def late(response: Any) -> Any:
    """Hold a post's answer past the client's patience for the drawn share of posts: it was stored all the same."""
    sandbox = state()
    if sandbox.draw(sandbox.knobs.timeout_rate):
        time.sleep(sandbox.knobs.timeout_seconds)
    return response


def json_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (an error body, or any other: the networks answer JSON either way)."""
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else ""
