"""A supporter's visit, kept in the signed session cookie: no account, no database row until they act."""

from __future__ import annotations

import secrets
from typing import Any

from flask import session

# The visit lives in the session cookie, which browsers cap at 4 KB: keep it well under.
MAX_SEEN = 50  # targets remembered per campaign (a visit rarely writes to more)
MAX_CAMPAIGNS = 5  # campaigns remembered per browser, the most recent


def visitor_id() -> str:
    """An anonymous id for this browser, so that analytics can count people, not clicks."""
    vid = session.get("vid")
    if not isinstance(vid, str) or len(vid) != 16:
        vid = secrets.token_hex(8)
        session["vid"] = vid
    return vid


class Visit:
    """What one visitor did on one campaign: the target shown, the ones written to, what was sent."""

    def __init__(self, campaign_id: int) -> None:
        self._key = str(campaign_id)
        visits: dict[str, Any] = session.get("visits") or {}
        self._data: dict[str, Any] = dict(visits.get(self._key) or {})
        self.is_new = not self._data  # the first page of this campaign in this browser (for the funnel)

    @property
    def current(self) -> int | None:
        value = self._data.get("cur")
        return value if isinstance(value, int) else None

    @property
    def seen(self) -> list[int]:
        return [v for v in self._data.get("seen", []) if isinstance(v, int)]

    def has_sent(self, recipient_id: int, network: str) -> bool:
        return f"{recipient_id}:{network}" in self._data.get("sent", [])

    def show(self, recipient_id: int) -> bool:
        """Remember the target shown; True when it was not already the one on show (a reload is not)."""
        if self.current == recipient_id and not self.is_new:
            return False
        self._data["cur"] = recipient_id
        self._save()
        return True

    def touch(self) -> None:
        """Keep the visit even though nothing was shown (the campaign had no target to offer)."""
        self._data.setdefault("cur", None)
        self._save()

    def skip(self) -> None:
        """Leave the current target for another one, and do not come back to it in this visit."""
        if self.current is not None:
            self._mark_seen(self.current)
        self._data.pop("cur", None)
        self._save()

    def sent(self, recipient_id: int, network: str) -> None:
        self._mark_seen(recipient_id)
        self._data["sent"] = [*self._data.get("sent", []), f"{recipient_id}:{network}"][-MAX_SEEN:]
        self._data["last"] = recipient_id
        if self.current == recipient_id:
            self._data.pop("cur", None)
        self._save()

    @property
    def sent_count(self) -> int:
        """How many targets this visitor wrote to (on any network)."""
        return len({entry.split(":", 1)[0] for entry in self._data.get("sent", [])})

    @property
    def last_sent(self) -> int | None:
        value = self._data.get("last")
        return value if isinstance(value, int) else None

    def _mark_seen(self, recipient_id: int) -> None:
        seen = self.seen
        if recipient_id not in seen:
            self._data["seen"] = [*seen, recipient_id][-MAX_SEEN:]

    def _save(self) -> None:
        visits = {key: value for key, value in (session.get("visits") or {}).items() if key != self._key}
        visits[self._key] = self._data  # last: dicts keep insertion order, so the oldest come first
        session["visits"] = dict(list(visits.items())[-MAX_CAMPAIGNS:])
