"""gunicorn hooks for embedded mode (`make run`): the serving worker also runs the scheduler and deliveries."""

from __future__ import annotations

from typing import Any

_running: dict[str, Any] = {}


def post_worker_init(worker: Any) -> None:
    from scheduler.runner import start_embedded

    _running["scheduler"] = start_embedded(worker.wsgi)


def worker_exit(server: Any, worker: Any) -> None:
    from scheduler.runner import stop_embedded

    if "scheduler" in _running:
        stop_embedded(worker.wsgi, _running.pop("scheduler"))
