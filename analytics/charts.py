"""Charts the app draws itself, as SVG: horizontal bars with their labels and values written out, so they
read without hovering, print, and need no script; each comes with its numbers as a table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROW = 26  # pixels per bar
WIDTH = 480  # the drawing's width: it is shown at most this wide, and scales down in a narrow column
LABEL_WIDTH = 170
BAR_WIDTH = 220  # what is left on the right is for the value and its note


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    width: float  # pixels
    y: int
    note: str = ""  # written after the value (a share, say)


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = WIDTH

    @property
    def is_empty(self) -> bool:
        return not self.bars or not any(bar.value for bar in self.bars)

    @property
    def description(self) -> str:
        return "; ".join(f"{bar.label}: {bar.value}{' ' + bar.note if bar.note else ''}" for bar in self.bars)


def bars(items: Iterable[tuple[str, int] | tuple[str, int, str]]) -> Chart:
    """A bar chart of (label, value[, note]) in the order given; bars scale to the largest value."""
    rows = [(item[0], int(item[1]), item[2] if len(item) > 2 else "") for item in items]
    top = max((value for _, value, _ in rows), default=0)
    found = [
        Bar(label, value, (BAR_WIDTH * value / top) if top else 0.0, index * ROW, note)
        for index, (label, value, note) in enumerate(rows)
    ]
    return Chart(found, max(ROW, len(found) * ROW))
