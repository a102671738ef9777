"""E-mail as supporters receive it: HTML and text from templates, in their language, with the headers mail
systems expect (Message-ID from the delivery's key, List-Unsubscribe with one click), sent over SMTP.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import escape

from channels import smtp
from database import utcnow


def compose(
    *,
    to: str,
    subject: str,
    template: str,
    language: str,
    key: str,
    unsubscribe_url: str = "",
    sender: Sender | None = None,
    **context: Any,
) -> Outgoing:
    """A multipart message from `<template>.txt` and `<template>.html`, rendered in `language`."""
    return skeleton(subject=subject, template=template, language=language, sender=sender, **context).fill(
        to=to, key=key, unsubscribe_url=unsubscribe_url
    )


@dataclass(frozen=True)
class Sender:
    """Who an organisation's e-mails say they are from (the address stays MAIL_FROM's) and where answers go."""

    name: str = ""
    reply_to: str = ""


def skeleton(
    *,
    subject: str,
    template: str,
    language: str,
    slots: Sequence[str] = (),
    sender: Sender | None = None,
    **context: Any,
) -> Skeleton:
    """The message rendered once, with a marker where each of `slots` goes (and the unsubscribe link), for
    `Skeleton.fill` to put each recipient's values in: a wave's 100,000 reminders are rendered once a
    language. A slot is printed by the templates as it is (`{{ name }}`, no filter): its value is then
    escaped as Jinja would have escaped it (HTML in the .html part, nothing in the .txt one).
    """
    stamp = secrets.token_hex(6)  # letters and digits: unchanged by escaping, in no organiser's text
    markers = {name: f"pv{stamp}s{n}x" for n, name in enumerate(["unsubscribe_url", *slots])}
    values = {"subject": subject, "language": language, **context}
    for name, marker in markers.items():
        head, _dot, index = name.partition(".")
        if index:  # `targets.0`, `targets.1`…: a list, one marker an item
            values.setdefault(head, []).append(marker)
        else:
            values[name] = marker
    with force_locale(language):
        text = render_template(f"{template}.txt", **values)
        html = render_template(f"{template}.html", **values)
    default_name, address = parseaddr(current_app.config["MAIL_FROM"])
    name = (sender.name if sender and sender.name else default_name).replace("\r", " ").replace("\n", " ")
    return Skeleton(
        sender=formataddr((name, address), charset="utf-8") if name else address,
        envelope=address,
        reply_to=sender.reply_to if sender else "",
        domain=address.rpartition("@")[2] or "porte-voix.example",
        subject=str(Header(subject, "utf-8").encode()),
        language=language,
        text=text,
        html=html,
        markers=markers,
        pattern=re.compile("|".join(re.escape(marker) for marker in markers.values())),
    )


@dataclass(frozen=True)
class Skeleton:
    """A message rendered but for its recipient's values (see `skeleton`)."""

    sender: str
    envelope: str  # the sender's bare address, for SMTP
    reply_to: str
    domain: str
    subject: str
    language: str
    text: str
    html: str
    markers: dict[str, str]  # slot → marker
    pattern: re.Pattern[str]

    def fill(self, *, to: str, key: str, unsubscribe_url: str = "", **values: str) -> Outgoing:
        """The message for one recipient. `values` names the slots (`targets_0` for `targets.0`); a slot not
        given is left empty.

        The bytes are written here rather than by `email.mime`, whose generator costs more than the rest
        of a reminder (its output is the same: see the tests); header values cannot carry a line break.
        """
        by_marker = {
            marker: unsubscribe_url if name == "unsubscribe_url" else values.get(name.replace(".", "_"), "")
            for name, marker in self.markers.items()
        }
        text = self.pattern.sub(lambda m: by_marker[m.group(0)], self.text)
        html = self.pattern.sub(lambda m: str(escape(by_marker[m.group(0)])), self.html)
        message_id = f"<{key}@{self.domain}>"  # the same on every retry: readers show one copy
        headers = [
            ("From", self.sender),
            ("To", to),
            ("Subject", self.subject),
            ("Date", format_datetime(utcnow())),
            ("Message-ID", message_id),
            ("Content-Language", self.language),
        ]
        if self.reply_to:
            headers.append(("Reply-To", self.reply_to))
        if unsubscribe_url:
            headers.append(("List-Unsubscribe", f"<{unsubscribe_url}>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))  # RFC 8058: a POST, no page
        # The subject was encoded (and folded) by `email.header`; the rest come in as they are.
        if any("\r" in value or "\n" in value for name, value in headers if name != "Subject"):
            raise ValueError("a header value cannot hold a line break")
        if not all(value.isascii() for _name, value in headers):  # rare: let `email` encode them
            return Outgoing(self.envelope, to, message_id, _mime(headers, text, html))
        boundary = f"=={secrets.token_hex(12)}=="
        lines = [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines.append("")
        for subtype, body in (("plain", text), ("html", html)):
            lines += [
                f"--{boundary}",
                f'Content-Type: text/{subtype}; charset="utf-8"',
                "MIME-Version: 1.0",
                "Content-Transfer-Encoding: base64",
                "",
                _base64_lines(body),
            ]
        lines += [f"--{boundary}--", ""]
        return Outgoing(self.envelope, to, message_id, "\n".join(lines).encode("utf-8"))


def _mime(headers: list[tuple[str, str]], text: str, html: str) -> bytes:
    message = MIMEMultipart("alternative")
    for name, value in headers:
        message[name] = value
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    return message.as_bytes()


def _base64_lines(body: str) -> str:
    """`body` in UTF-8 as base64 lines of 76 characters, as `email` writes a part (RFC 2045)."""
    return base64.encodebytes(body.encode("utf-8")).decode("ascii").rstrip("\n")


@dataclass(frozen=True)
class Outgoing:
    """A message ready for SMTP: the envelope and the bytes."""

    sender: str
    to: str
    message_id: str
    data: bytes


def server() -> smtp.SmtpServer:
    config = current_app.config
    return smtp.SmtpServer(
        host=config["SMTP_HOST"],
        port=int(config["SMTP_PORT"]),
        timeout=float(config["NETWORK_TIMEOUT"]),
        username=config["SMTP_USERNAME"],
        password=config["SMTP_PASSWORD"],
        starttls=bool(config["SMTP_STARTTLS"]),
    )


def send(message: Outgoing) -> None:
    """Send through the configured server. Raises ChannelError (a bounce is REJECTED, "bounced: …")."""
    smtp.send(server(), message.sender, [message.to], message.data)
