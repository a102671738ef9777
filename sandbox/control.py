"""The sandbox's own pages: what was posted, and the control API that sets knobs, clock and accounts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from sandbox.faults import json_error, state

bp = Blueprint("control", __name__)


@bp.route("/")
def index() -> str:
    sandbox = state()
    return render_template(
        "sandbox/index.html",
        posts=list(reversed(sandbox.posts()))[:200],
        knobs=sandbox.knobs,
        counts={n: len(sandbox.posts(n)) for n in ("x", "mastodon", "bluesky")},
        mails=list(reversed(list(enumerate(sandbox.mailbox()))))[:100],
    )


@bp.route("/__sandbox__/mail/<int:number>")
def mail(number: int) -> Response | str:
    """One e-mail as a mail reader shows it: its HTML part (links and all), or its text."""
    mails = state().mailbox()
    if not 0 <= number < len(mails):
        return json_error(404, {"error": "no such e-mail"})
    chosen = mails[number]
    return render_template("sandbox/mail.html", mail=chosen)


@bp.route("/__sandbox__/mail")
def mails() -> Response:
    """The mailbox as JSON; `?brief=1` leaves out what needs each message parsed (subject, text)."""
    to, brief = request.args.get("to"), request.args.get("brief") == "1"
    sandbox = state()
    return json_error(
        200,
        [
            {"message_id": m.message_id, "to": m.to, "transmissions": sandbox.transmissions[m.message_id]}
            | ({} if brief else {"subject": m.subject, "text": m.text})
            for m in sandbox.mailbox(to)
        ],
    )


@bp.route("/__sandbox__/posts")
def posts() -> Response:
    network = request.args.get("network")
    return json_error(
        200,
        [
            {
                "network": p.network,
                "author": p.author,
                "text": p.text,
                "url": p.url,
                "remote_id": p.remote_id,
                "created_at": p.created_at.isoformat(),
                "deleted": p.deleted,
            }
            for p in state().posts(network)
        ],
    )


@bp.route("/__sandbox__/config", methods=["GET", "POST"])
def config() -> Response:
    sandbox = state()
    if request.method == "POST":
        values: Any = request.get_json(silent=True)
        if not isinstance(values, dict):
            return json_error(400, {"error": "send a JSON object of knobs"})
        unknown = sandbox.knobs.update(values)
        if unknown:
            return json_error(400, {"error": f"unknown knobs: {', '.join(unknown)}"})
        if "seed" in values:
            sandbox.reseed()
    return json_error(200, asdict(sandbox.knobs))


@bp.route("/__sandbox__/clock", methods=["POST"])
def clock() -> Response:
    values = request.get_json(silent=True) or {}
    try:
        state().clock.advance(float(values.get("advance", 0)))
    except (TypeError, ValueError):
        return json_error(400, {"error": "advance takes a number of seconds"})
    return json_error(200, {"now": state().clock.time()})


@bp.route("/__sandbox__/engage", methods=["POST"])
def engage() -> Response:
    """Play the public: set a post's likes, reposts and quotes, and add replies (`{"author", "text"}`).

    `{"network": "bluesky", "remote_id": "<rkey or id>", "likes": 3, "replies": [{"author": "…", "text": "…"}]}`
    """
    values: Any = request.get_json(silent=True)
    if not isinstance(values, dict) or values.get("network") not in ("x", "bluesky", "mastodon"):
        return json_error(400, {"error": "send a JSON object with network (x, bluesky or mastodon) and remote_id"})
    replies = values.get("replies") or []
    if not isinstance(replies, list) or not all(isinstance(r, dict) and r.get("author") for r in replies):
        return json_error(400, {"error": "replies is a list of objects with an author and a text"})
    counts = {k: values[k] for k in ("likes", "reposts", "quotes") if isinstance(values.get(k), int)}
    found = state().engage(values["network"], str(values.get("remote_id", "")), counts, replies)
    if not found:
        return json_error(404, {"error": "no such post"})
    return json_error(200, {"ok": True})


@bp.route("/__sandbox__/reset", methods=["POST"])
def reset() -> Response:
    state().reset()
    return json_error(200, {})
