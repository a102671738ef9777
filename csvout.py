"""The one CSV writer of every export: a cell a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """Keep a spreadsheet from running a cell as a formula (a target's name or a reply could start with =)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(defuse(value) for value in row)
    return out.getvalue()
