"""`bench/wave.py`'s baseline: the wave's calls made with nothing of ours, in the same run.

`--threads` threads send the same number of e-mails with plain `smtplib` (one kept connection a
thread) to the same sink, and make the pledges' calls with plain `requests` to the same sandbox with
the same accounts' tokens (a Bluesky post resolves its mention's handle first, as ours does).
"""

from __future__ import annotations

import argparse
import smtplib
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import requests
from deliveries import bare_post

TARGETS = 300  # × a cap of 1,000 an hour: 100,000 reminders of three targets go out in the first hour
REMINDER_TEXT = "C'est maintenant. Écrivez à vos députés : Député N1, Député N2, Député N3. " * 12


def bare(url: str, smtp_port: int, tokens: list[tuple[str, dict[str, Any]]], args: argparse.Namespace) -> float:
    """The same calls with nothing of ours: `smtplib` and `requests` from `--threads` threads (see the docstring)."""

    message = MIMEMultipart("alternative")
    message["From"], message["Subject"] = "Porte-voix <vagues@porte-voix.example>", "Bench est ouvert · Bench"
    message.attach(MIMEText(REMINDER_TEXT, "plain", "utf-8"))
    message.attach(MIMEText(f"<p>{REMINDER_TEXT}</p>", "html", "utf-8"))
    data = message.as_bytes()
    local = threading.local()

    def mail(n: int) -> None:
        connection = getattr(local, "smtp", None)
        if connection is None:
            connection = local.smtp = smtplib.SMTP("127.0.0.1", smtp_port, timeout=10)
        to = f"personne{n}@exemple.fr"
        connection.sendmail(
            "vagues@porte-voix.example",
            [to],
            data.replace(b"Subject:", f"To: {to}\nSubject:".encode(), 1),
        )

    def post(n: int) -> None:
        session = getattr(local, "http", None) or requests.Session()
        local.http = session
        network, secrets = tokens[n % len(tokens)]
        text = f"@depute{n % TARGETS}.targets.example voix bare {n} : l'emploi local d'abord, {uuid.uuid4().hex[:12]}"
        if network == "mastodon":
            text = text.replace(".targets.example", "@targets.example")
        else:  # the mention's handle resolved first, as our post does
            session.get(
                f"{url}/bluesky/xrpc/com.atproto.identity.resolveHandle",
                params={"handle": f"depute{n % TARGETS}.targets.example"},
                timeout=10,
            ).raise_for_status()
        bare_post(session, url, network, secrets, text)

    def one(n: int) -> None:
        if n < args.pledges:
            post(n)
        else:
            mail(n)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        list(pool.map(one, range(args.pledges + args.reminders)))
    return time.perf_counter() - started
