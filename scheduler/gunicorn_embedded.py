"""gunicorn hooks for embedded mode (`make run`): the serving worker also runs the scheduler and deliveries,
and, when the sandbox is mounted, the sandbox's SMTP sink (e-mail lands in /sandbox/'s mailbox).
"""

from __future__ import annotations

from typing import Any

_running: dict[str, Any] = {}


def post_worker_init(worker: Any) -> None:
    from scheduler.runner import start_embedded

    app = worker.wsgi
    state = app.extensions.get("porte_voix_sandbox")
    if state is not None and app.config["SMTP_SANDBOX"]:
        from sandbox.smtp import SmtpSink

        _running["smtp"] = SmtpSink(state, host=app.config["SMTP_HOST"], port=int(app.config["SMTP_PORT"])).start()
    _running["scheduler"] = start_embedded(app)


def worker_exit(server: Any, worker: Any) -> None:
    from scheduler.runner import stop_embedded

    if "scheduler" in _running:
        stop_embedded(worker.wsgi, _running.pop("scheduler"))
    if "smtp" in _running:
        _running.pop("smtp").stop()
