"""What is held about a supporter, worded for the page (the JSON download keeps the plain data)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response
from flask_babel import lazy_gettext as _l

from analytics.labels import mode_label
from campaign.labels import wall_clock
from channels import Network

FIELDS = {
    "network": _l("Network"),
    "handle": _l("Account"),
    "instance": _l("Server"),
    "display_name": _l("Name shown"),
    "followers": _l("Followers"),
    "connected_at": _l("Connected"),
    "state": _l("State"),
    "kind": _l("Consent"),
    "text": _l("Text"),
    "at": _l("When"),
    "campaign": _l("Campaign"),
    "email": _l("Address"),
    "language": _l("Language"),
    "asked_at": _l("Asked"),
    "confirmed_at": _l("Confirmed"),
    "unsubscribed_at": _l("Unsubscribed"),
    "bounced_at": _l("Bounced"),
    "address_shared_with_organisers_at": _l("Address shared with the organisers"),
    "reminders": _l("Reminders received"),
    "wave": _l("Wave"),
    "target": _l("To"),
    "release_at": _l("To be posted at"),
    "released_at": _l("Posted at"),
    "url": _l("Link"),
    "posted_at": _l("Posted"),
    "mode": _l("How"),
    "posted_as": _l("Posted as"),
    "confirmed_url": _l("Post found"),
    "created_at": _l("First seen"),
}
VALUES = {  # states and consent kinds (a mode is worded by analytics' `mode_label`)
    "pledge": _l("pledged post"),
    "connect": _l("account connected"),
    "post": _l("post on your click"),
    "disconnect": _l("account disconnected"),
    "withdraw": _l("consent withdrawn"),
    "connected": _l("connected"),
    "needs_reconnect": _l("to reconnect"),
    "pending": _l("waiting for confirmation"),
    "confirmed": _l("confirmed"),
    "unsubscribed": _l("unsubscribed"),
    "bounced": _l("bounced"),
    "pledged": _l("waiting for its time"),
    "released": _l("released"),
    "cancelled": _l("cancelled"),
    "queued": _l("waiting"),
    "sending": _l("sending"),
    "posted": _l("posted"),
    "failed": _l("failed"),
}
NETWORKS = {network.value: network.label for network in Network}
DATES = {key for key in FIELDS if key.endswith("_at") or key == "at"}


def _value(key: str, value: Any) -> str:
    if value in (None, ""):
        return ""
    if key in DATES and isinstance(value, str):
        return wall_clock(datetime.fromisoformat(value), "d MMM y HH:mm")
    if key == "reminders" and isinstance(value, list):
        return str(len(value))
    if key == "network" and value in NETWORKS:
        return NETWORKS[value]
    if key == "mode":
        return mode_label(value)
    if key in ("state", "kind") and value in VALUES:
        return str(VALUES[value])
    return str(value)


def readable(rows: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """Each row as (label, value) pairs, the empty ones left out."""
    return [
        [(str(FIELDS.get(key, key)), shown) for key, value in row.items() if (shown := _value(key, value))]
        for row in rows
    ]


def download(held: dict[str, Any], filename: str) -> Response:
    """What is held, as the JSON file to keep: never cached on the way."""
    response = Response(json.dumps(held, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
