"""JSON with a depth cap, for request bodies and uploaded files: a text nested 200,000 levels deep is
refused with a reason instead of exhausting the parser's recursion (a 500)."""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_JSON_DEPTH = 64  # no public data set nests deeper than a handful of levels
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        mark = match.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def loads_json(text: str | bytes) -> Any:
    """json.loads with a depth cap: raises ValueError for a text nested deeper than MAX_JSON_DEPTH."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text)


class CappedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies with the depth cap (get_json(silent=True) then gives None)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_json(s)
