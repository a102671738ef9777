"""The sandbox's SMTP sink: accepts e-mail on 127.0.0.1 and files it in the sandbox's mailbox.

It plays a mail system with the same knobs as the networks: latency, a share of temporary refusals
(451), a share of messages accepted but answered too late, and addresses that bounce (550). Like a
mail reader, the mailbox shows one copy per Message-ID and counts the copies that came over the wire.

A thread per connection and the few commands `smtplib` sends (RFC 5321's minimum): filing a message
is a dictionary update, so the sink keeps up with the delivery workers it stands in front of.
"""

from __future__ import annotations

import re
import socketserver
import threading
import time
from typing import Any

from database import utcnow
from sandbox.state import Mail, State

MAX_LINE = 1000 + 2  # RFC 5321's line limit, with its CRLF
MAX_MESSAGE = 10 * 1024 * 1024
_ADDRESS = re.compile(rb"<([^>]*)>")
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(.+?)\r?$", re.IGNORECASE | re.MULTILINE)


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 sandbox.porte-voix ESMTP ready")
        mail_from, recipients = "", list[str]()
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return
            verb, _, argument = line.strip().partition(b" ")
            verb = verb.upper()
            if verb == b"EHLO":
                self.reply(f"250-sandbox.porte-voix\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MAX_MESSAGE}")
            elif verb == b"HELO":
                self.reply("250 sandbox.porte-voix")
            elif verb == b"MAIL":
                found = _ADDRESS.search(argument)
                mail_from, recipients = (found.group(1).decode(errors="replace") if found else ""), []
                self.reply("250 OK")
            elif verb == b"RCPT":
                found = _ADDRESS.search(argument)
                address = found.group(1).decode(errors="replace") if found else ""
                if self.server.bounces(address):
                    self.reply(f"550 5.1.1 <{address}>: no such mailbox here")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == b"DATA":
                if not recipients:
                    self.reply("503 5.5.1 RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self.reply(self.server.file(mail_from, recipients, self._read_data()))
                mail_from, recipients = "", []
            elif verb == b"RSET":
                mail_from, recipients = "", []
                self.reply("250 OK")
            elif verb == b"NOOP":
                self.reply("250 OK")
            elif verb == b"QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 5.5.2 command not implemented")

    def _read_data(self) -> bytes:
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line or line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        super().__init__(address, _Session)
        self.state = state

    def bounces(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower()
        return any(domain == bounced or domain.endswith("." + bounced) for bounced in self.state.knobs.bounce_domains)

    def file(self, mail_from: str, recipients: list[str], raw: bytes) -> str:
        """File the message and return the reply, faults drawn as the knobs say."""
        knobs = self.state.knobs
        if knobs.latency_ms:
            time.sleep(knobs.latency_ms / 1000)
        if self.state.draw(knobs.error_rate):
            return "451 4.3.0 try again later"
        found = _MESSAGE_ID.search(raw.split(b"\r\n\r\n", 1)[0])
        message_id = found.group(1).decode(errors="replace").strip() if found else f"<sink-{id(raw)}>"
        self.state.deliver(Mail(message_id, mail_from, list(recipients), raw, utcnow()))
        if self.state.draw(knobs.timeout_rate):  # filed, but the answer comes after the client gave up
            time.sleep(knobs.timeout_seconds)
        return "250 Message accepted for delivery"


class SmtpSink:
    """`with SmtpSink(state) as sink:` listens on `sink.host:sink.port` (a free port unless given)."""

    def __init__(self, state: State, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self._server = _Server((host, port), state)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="smtp-sink", daemon=True)

    def start(self) -> SmtpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
