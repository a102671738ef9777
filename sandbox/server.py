"""The sandbox served on 127.0.0.1 from a thread of this process (tests, benchmarks)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox import State, create_sandbox


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """The sandbox's access log would bury a test's own output."""


class SandboxServer:
    """`with SandboxServer() as sandbox:` serves on a free port; `sandbox.url` is its base URL."""

    def __init__(self, state: State | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state or State()
        self._server = make_server(host, port, create_sandbox(self.state), threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True)

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
