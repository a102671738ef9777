"""`flask sandbox serve`: the sandbox networks alone, on a port of their own."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from sandbox import Knobs, State, create_sandbox
from sandbox.smtp import SmtpSink

sandbox_cli = AppGroup("sandbox", help="Local stand-ins for X, Mastodon and Bluesky.")


@sandbox_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--latency-ms", default=0, show_default=True, type=int, help="Added to every API call.")
@click.option("--error-rate", default=0.0, show_default=True, type=float, help="Share of API calls answered 503.")
@click.option(
    "--timeout-rate",
    default=0.0,
    show_default=True,
    type=float,
    help="Share of posts stored but answered too late for the client.",
)
@click.option("--smtp-port", default=8025, show_default=True, type=int, help="The SMTP sink's port; 0: no sink.")
def serve(host: str, port: int, latency_ms: int, error_rate: float, timeout_rate: float, smtp_port: int) -> None:
    """Serve the sandbox (and its SMTP sink); point the app at them with SANDBOX_URL and SMTP_HOST/SMTP_PORT."""
    state = State(knobs=Knobs(latency_ms=latency_ms, error_rate=error_rate, timeout_rate=timeout_rate))
    if smtp_port:
        SmtpSink(state, host=host, port=smtp_port).start()
        click.echo(f"SMTP sink on {host}:{smtp_port} (the mailbox at /#mailbox)")
    click.echo(f"Sandbox networks on http://{host}:{port} (posts listed at /; knobs at /__sandbox__/config)")
    run_simple(host, port, create_sandbox(state), threaded=True)
