"""Who is asking, without knowing who: a keyed hash of the client's address, for throttles and the audit log."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from flask import current_app, request


def hashed_client() -> str:
    """A keyed hash of the client's address, rotated daily: no throttle or log row holds the address.

    The key is the app's secret with the day's date, so yesterday's hashes cannot be joined to today's.
    """
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    key = hashlib.sha256(f"{current_app.config['SECRET_KEY']}:client:{day}".encode()).digest()
    address = (request.remote_addr or "-") if request else "-"
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def is_static() -> bool:
    return bool(request) and request.endpoint == "static"
