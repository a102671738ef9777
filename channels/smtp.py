"""E-mail out through SMTP (`smtplib`): one kept connection per thread and server, a timeout, our error type.

A permanent refusal of the address (5xx to RCPT) is a bounce: `ChannelError(REJECTED)` whose reason
starts with "bounced"; a temporary one (4xx) or a server that does not answer is UNAVAILABLE, retried.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from dataclasses import dataclass

from channels.errors import ChannelError, ErrorKind

logger = logging.getLogger(__name__)
BOUNCED = "bounced"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    timeout: float = 10.0
    username: str = ""
    password: str = ""
    starttls: bool = False


_local = threading.local()
_every: set[smtplib.SMTP] = set()  # every thread's kept connections, for a clean stop
_every_lock = threading.Lock()


def _connection(server: SmtpServer) -> tuple[smtplib.SMTP, bool]:
    """This thread's open connection to `server` (and whether it was reused)."""
    connections: dict[SmtpServer, smtplib.SMTP] = _local.__dict__.setdefault("connections", {})
    existing = connections.get(server)
    if existing is not None:
        return existing, True
    connection = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    if server.starttls:
        connection.starttls()
    if server.username:
        connection.login(server.username, server.password)
    connections[server] = connection
    with _every_lock:
        _every.add(connection)
    return connection, False


def _drop(server: SmtpServer) -> None:
    connections: dict[SmtpServer, smtplib.SMTP] = _local.__dict__.setdefault("connections", {})
    connection = connections.pop(server, None)
    if connection is not None:
        _close(connection)


def _close(connection: smtplib.SMTP) -> None:
    with _every_lock:
        _every.discard(connection)
    try:
        connection.close()
    except OSError:
        pass


def close_every_connection() -> None:
    """Close the kept connections of every thread, once the threads that sent have stopped (shutdown, tests)."""
    with _every_lock:
        kept = list(_every)
    for connection in kept:
        _close(connection)


def close_connections() -> None:
    """Close this thread's kept connections (a thread that stops sending, or a test that ends)."""
    connections: dict[SmtpServer, smtplib.SMTP] = _local.__dict__.setdefault("connections", {})
    for server in list(connections):
        _drop(server)


def _refusal(code: int, text: bytes | str, what: str) -> ChannelError:
    words = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if 500 <= code < 600:
        return ChannelError(ErrorKind.REJECTED, f"{BOUNCED if what == 'recipient' else 'refused'}: {code} {words}")
    return ChannelError(ErrorKind.UNAVAILABLE, f"the mail server said: {code} {words}")


def send(server: SmtpServer, sender: str, recipients: list[str], data: bytes) -> None:
    """Hand the message (`data`, flattened) to the server. Raises ChannelError (see the module's docstring)."""
    for attempt in (1, 2):
        try:
            connection, reused = _connection(server)
        except (smtplib.SMTPException, OSError) as exc:
            _drop(server)
            raise ChannelError(ErrorKind.UNAVAILABLE, f"the mail server did not answer ({exc})") from exc
        try:
            connection.sendmail(sender, recipients, data)
            return
        except smtplib.SMTPServerDisconnected as exc:
            _drop(server)
            if reused and attempt == 1:  # a kept connection the server had closed: open a fresh one, once
                continue
            raise ChannelError(ErrorKind.UNAVAILABLE, "the mail server closed the connection") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            _reset(server, connection)
            raise _refusal(code, text, "recipient") from exc
        except smtplib.SMTPResponseException as exc:
            _reset(server, connection)
            raise _refusal(exc.smtp_code, exc.smtp_error, "message") from exc
        except (smtplib.SMTPException, OSError) as exc:
            _drop(server)
            raise ChannelError(ErrorKind.UNAVAILABLE, f"the mail server did not answer ({exc})") from exc
    raise AssertionError("unreachable")


def _reset(server: SmtpServer, connection: smtplib.SMTP) -> None:
    """After a refusal the connection may be mid-transaction: RSET it, or drop it."""
    try:
        connection.rset()
    except (smtplib.SMTPException, OSError):
        _drop(server)
