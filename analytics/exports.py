"""The dashboards' numbers as JSON and CSV: built from the same objects the pages show, so they agree.

Aggregates only: targets are public figures and appear by name; supporters never appear (no e-mail,
no handle, no browser id). The organiser's export of consenting subscribers is `consenting_subscribers`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

import csvout
from analytics.coverage import Coverage
from analytics.figures import Figures
from extensions import db
from waves.models import Subscription, SubscriptionState

CSV_HEADER = ("section", "key", "metric", "value")


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_dict(figures: Figures, coverage: Coverage) -> dict[str, Any]:
    data = _plain(asdict(figures))
    scope = data.pop("scope")
    return {
        "campaign_id": scope["campaign_id"],
        "wave_id": scope["wave_id"],
        "range": {"start": scope["start"], "end": scope["end"]},
        **data,
        "coverage": {
            "targets": coverage.targets,
            "reached": coverage.reached,
            "distribution": _plain([asdict(c) for c in coverage.distribution]),
            "by_group": [asdict(s) | {"percent": s.percent} for s in coverage.by_group],
            "by_department": [asdict(s) | {"percent": s.percent} for s in coverage.by_department],
            "targets_table": [asdict(row) for row in coverage.rows],
        },
    }


def csv_rows(figures: Figures, coverage: Coverage) -> Iterator[tuple[Any, ...]]:
    """One line per number: section, key, metric, value (a long table every spreadsheet can pivot)."""
    data = as_dict(figures, coverage)
    yield ("range", "", "start", data["range"]["start"] or "")
    yield ("range", "", "end", data["range"]["end"] or "")
    for section in ("funnel", "reach"):
        for metric, value in data[section].items():
            yield (section, "", metric, value)
    for section in ("by_network", "by_mode", "by_variant", "by_day", "by_hour"):
        for row in data[section]:
            yield (section, row["key"], "actions", row["actions"])
            yield (section, row["key"], "confirmed", row["confirmed"])
    people = data["supporters"]
    for metric in ("total", "new", "returning"):
        yield ("supporters", "", metric, people[metric])
    for row in people["new_by_day"]:
        yield ("supporters_new_by_day", row["key"], "supporters", row["actions"])
    engagement = data["engagement"]
    for metric in ("posts", "measured", "likes", "reposts", "replies", "quotes", "last_fetched_at"):
        yield ("engagement", "", metric, engagement[metric] or ("" if engagement[metric] is None else 0))
    for row in engagement["problems"]:
        yield ("engagement_problems", row["key"], "posts", row["actions"])
    for n, answer in enumerate(data["answers"], 1):
        for metric in ("target", "network", "text", "url", "replied_at"):
            yield ("answers", n, metric, answer[metric] or "")
    cov = data["coverage"]
    yield ("coverage", "", "targets", cov["targets"])
    yield ("coverage", "", "reached", cov["reached"])
    for row in cov["distribution"]:
        yield ("coverage_distribution", row["key"], "targets", row["actions"])
    for section in ("by_group", "by_department"):
        for share in cov[section]:
            for metric in ("targets", "reached", "percent"):
                yield (f"coverage_{section}", share["key"], metric, share[metric])
    for row in cov["targets_table"]:
        for metric in ("name", "group", "department", "actions", "confirmed", "pressure"):
            yield ("coverage_targets", row["recipient_id"], metric, row[metric])


def to_csv(rows: Iterator[tuple[Any, ...]], header: tuple[str, ...] = CSV_HEADER) -> str:
    return csvout.to_csv(rows, header)


SUBSCRIBER_HEADER = ("email", "language", "confirmed_at", "shared_at", "consent")
# What every row of the export relies on (GDPR art. 6.1.a), written in each row and in the audit log.
CONSENT_BASIS = (
    "consent: ticked 'the organisers may also write to me' when subscribing, then confirmed by the e-mail link"
)


def consenting_subscribers(campaign_id: int) -> Iterator[tuple[Any, ...]]:
    """Confirmed subscribers who agreed to share their address with the organisers, and when."""
    rows = db.session.execute(
        select(Subscription.email, Subscription.language, Subscription.confirmed_at, Subscription.shared_at)
        .where(_consenting(campaign_id))
        .order_by(Subscription.confirmed_at, Subscription.id)
    ).all()
    for email, language, confirmed_at, shared_at in rows:
        yield (email, language, _plain(confirmed_at) or "", _plain(shared_at) or "", CONSENT_BASIS)


def _consenting(campaign_id: int) -> Any:
    return (
        (Subscription.campaign_id == campaign_id)
        & (Subscription.state == SubscriptionState.CONFIRMED)
        & Subscription.shared_at.is_not(None)
    )


def count_consenting(campaign_id: int) -> int:
    return int(db.session.scalar(select(func.count()).where(_consenting(campaign_id))) or 0)
