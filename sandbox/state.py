"""The sandbox's memory: a clock that tests can move, knobs for latency, limits and faults, and what was posted.

Everything lives in one process's memory behind one lock; the sandbox stands in for three networks
during tests, demos and rehearsals, and forgets them when it stops (as a reconnect would show).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cached_property
from typing import Any


class Clock:
    """Real time, moved by `advance` (tests and `POST /__sandbox__/clock` jump past rate windows)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


@dataclass
class Knobs:
    """What the sandbox does besides answering correctly. `POST /__sandbox__/config` sets any of them."""

    latency_ms: int = 0  # added to every API call
    error_rate: float = 0.0  # share of API calls answered 503 before doing anything
    timeout_rate: float = 0.0  # share of posts stored, then answered too late for the client (the worst case)
    timeout_seconds: float = 12.0  # how late: longer than the client waits
    burst_429: int = 0  # the next N posts are answered 429, whatever the budget
    burst_reset_seconds: int = 60  # the reset those 429s announce
    omit_reset_headers: bool = False  # 429s without any reset header
    seed: int | None = None  # fixes the fault draws
    x_posts_per_window: int = 100  # per user, 15 minutes (X's current table)
    x_window_seconds: int = 900
    x_app_posts_per_day: int = 10_000
    x_credits_depleted: bool = False  # every post answered 402
    x_token_seconds: int = 7200
    mastodon_statuses_per_window: int = 300  # per account, 3 hours
    mastodon_window_seconds: int = 10_800
    mastodon_max_characters: int = 500
    bluesky_points_per_hour: int = 5000
    bluesky_points_per_day: int = 35_000
    bluesky_token_seconds: int = 7200
    bluesky_sessions_per_window: int = 30  # createSession per identifier, 5 minutes
    bluesky_existing_domains: list[str] = field(default_factory=list)  # every handle under these exists (the demo)
    down_hosts: list[str] = field(default_factory=list)  # Mastodon instances that never answer in time
    not_mastodon_hosts: list[str] = field(default_factory=list)  # hosts that answer, but are not Mastodon
    bounce_domains: list[str] = field(default_factory=lambda: ["bounce.example"])  # the SMTP sink refuses them (550)

    def update(self, values: dict[str, Any]) -> list[str]:
        """Set the named knobs; returns the names it does not know (nothing is set then)."""
        known = {f.name: f for f in fields(self)}
        unknown = [name for name in values if name not in known]
        if not unknown:
            for name, value in values.items():
                setattr(self, name, value)
        return unknown


@dataclass
class Mail:
    """One e-mail the SMTP sink accepted: kept as it came, read (parsed) only when a page or a test asks."""

    message_id: str
    mail_from: str
    to: list[str]
    raw: bytes
    received_at: datetime

    @cached_property
    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.raw, policy=policy.default)
        return message if isinstance(message, EmailMessage) else EmailMessage()

    @property
    def subject(self) -> str:
        return str(self.parsed.get("Subject", "")).strip()

    @property
    def headers(self) -> dict[str, str]:
        return {name: str(value) for name, value in self.parsed.items()}

    def _part(self, kind: str) -> str:
        part = self.parsed.get_body(preferencelist=(kind,))
        return str(part.get_content()) if part is not None else ""

    @property
    def text(self) -> str:
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")


@dataclass
class Posted:
    """One post as the page lists it."""

    network: str
    author: str
    text: str
    url: str
    remote_id: str
    created_at: datetime
    deleted: bool = False


MASTODON_COUNTS = {"likes": "favourites_count", "reposts": "reblogs_count", "quotes": "quotes_count"} | {
    "replies": "replies_count"
}


class State:
    def __init__(self, clock: Clock | None = None, knobs: Knobs | None = None) -> None:
        self.clock = clock or Clock()
        self.knobs = knobs or Knobs()
        self.lock = threading.RLock()
        self._random = random.Random(self.knobs.seed)  # noqa: S311 (fault draws, not secrets)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.data: dict[str, Any] = defaultdict(dict)  # per network: its own tables, by name
            self.posted: list[Posted] = []
            self._windows: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
            self._ids = 1_000_000
            self.calls: dict[str, int] = defaultdict(int)  # requests by "METHOD path" (tests read it)
            self.mails: list[Mail] = []  # the mailbox: one per Message-ID, as a mail reader would show them
            self.transmissions: dict[str, int] = defaultdict(int)  # times each Message-ID came over SMTP

    def table(self, network: str, name: str) -> dict[Any, Any]:
        tables: dict[str, dict[Any, Any]] = self.data[network]
        return tables.setdefault(name, {})

    def next_id(self) -> int:
        with self.lock:
            self._ids += 1
            return self._ids

    def draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self._random.random() < rate

    def reseed(self) -> None:
        with self.lock:
            self._random.seed(self.knobs.seed)

    def take(self, key: str, cost: int, limit: int, window: int) -> tuple[bool, int, float]:
        """Spend `cost` of `limit` in a sliding `window` (seconds). Returns (allowed, remaining, reset epoch)."""
        now = self.clock.time()
        with self.lock:
            spent = self._windows[key]
            while spent and spent[0][0] <= now - window:
                spent.popleft()
            used = sum(c for _, c in spent)
            reset = (spent[0][0] + window) if spent else now + window
            if used + cost > limit:
                return False, max(0, limit - used), reset
            spent.append((now, cost))
            return True, limit - used - cost, reset

    def burst(self) -> bool:
        """Whether this post falls in a 429 burst (and uses one up)."""
        with self.lock:
            if self.knobs.burst_429 > 0:
                self.knobs.burst_429 -= 1
                return True
            return False

    def record(self, post: Posted) -> None:
        with self.lock:
            self.posted.append(post)

    def engage(self, network: str, remote_id: str, counts: dict[str, int], replies: list[dict[str, str]]) -> bool:
        """Set a post's counts and add replies to it (`POST /__sandbox__/engage`); False when there is no such post.

        The networks name their counts differently; each network's module reads them from here.
        """
        with self.lock:
            post = self._find(network, remote_id)
            if post is None:
                return False
            names = (
                MASTODON_COUNTS if network == "mastodon" else {k: k for k in ("likes", "reposts", "quotes", "replies")}
            )
            post.update({names[name]: value for name, value in counts.items()})
            thread = post.setdefault("_thread", [])
            for reply in replies:
                author, text = reply["author"].lstrip("@"), reply.get("text", "")
                thread.append({"id": str(self.next_id()), "author": author, "text": text, "at": self.clock.now()})
            post[names["replies"]] = post.get(names["replies"], 0) + len(replies)
            return True

    def _find(self, network: str, remote_id: str) -> dict[str, Any] | None:
        if network == "bluesky":
            rkey = remote_id.rsplit("/", 1)[-1]
            return next((r for (_, key), r in self.table("bluesky", "records").items() if key == rkey), None)
        if network == "mastodon":
            status: dict[str, Any] | None = self.table("mastodon", "statuses").get(remote_id)
            return status
        found: dict[str, Any] | None = self.table("x", "posts").get(remote_id)
        return found

    def deliver(self, mail: Mail) -> None:
        """File an accepted e-mail; a second copy of one Message-ID is counted, not shown twice (as mail readers do)."""
        with self.lock:
            self.transmissions[mail.message_id] += 1
            if self.transmissions[mail.message_id] == 1:
                self.mails.append(mail)

    def mailbox(self, to: str | None = None) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if to is None or to.lower() in (t.lower() for t in m.to)]

    def posts(self, network: str | None = None) -> list[Posted]:
        with self.lock:
            return [p for p in self.posted if network is None or p.network == network]


def followers_for(name: str) -> int:
    """A stable follower count for a sandbox account, so that reach figures look like something."""
    return 40 + int(hashlib.sha256(name.lower().encode()).hexdigest()[:6], 16) % 4000
