"""The sandbox's SMTP sink: accepts e-mail on 127.0.0.1 and files it in the sandbox's mailbox.

It plays a mail system with the same knobs as the networks: latency, a share of temporary refusals
(451), a share of messages accepted but answered too late, and addresses that bounce (550). Like a
mail reader, the mailbox shows one copy per Message-ID and counts the copies that came over the wire.
"""

from __future__ import annotations

import asyncio
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from database import utcnow
from sandbox.state import Mail, State


class _Handler:
    def __init__(self, state: State) -> None:
        self.state = state

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        domain = address.rpartition("@")[2].lower()
        if any(domain == bounced or domain.endswith("." + bounced) for bounced in self.state.knobs.bounce_domains):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        knobs = self.state.knobs
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if self.state.draw(knobs.error_rate):
            return "451 4.3.0 try again later"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        if not isinstance(parsed, EmailMessage):
            return "554 5.6.0 unreadable message"
        self.state.deliver(_mail(parsed, envelope))
        if self.state.draw(knobs.timeout_rate):  # filed, but the answer comes after the client gave up
            await asyncio.sleep(knobs.timeout_seconds)
        return "250 Message accepted for delivery"


def _mail(parsed: EmailMessage, envelope: Any) -> Mail:
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return Mail(
        message_id=str(parsed.get("Message-ID", "")),
        mail_from=str(envelope.mail_from),
        to=list(envelope.rcpt_tos),
        subject=str(parsed.get("Subject", "")),
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else "",
        headers={name: str(value) for name, value in parsed.items()},
        received_at=utcnow(),
    )


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """`with SmtpSink(state) as sink:` listens on `sink.host:sink.port` (a free port unless given)."""

    def __init__(self, state: State, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port or _free_port(host)
        self._controller = Controller(_Handler(state), hostname=host, port=self.port, ready_timeout=5)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
