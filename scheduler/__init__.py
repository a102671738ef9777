"""The scheduler's registry: packages declare periodic jobs here; the scheduler process runs them.

It knows nothing of campaigns: a job is a name, a function of the current time, and an interval.
`register_jobs` in app.py fills the registry; nothing here starts a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[[datetime], object]
    every_seconds: int


class JobRegistry:
    """Periodic jobs by name; registering a name twice is a programming error."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    def register(self, name: str, func: Callable[[datetime], object], *, every_seconds: int) -> None:
        if name in self._jobs:
            raise ValueError(f"job {name!r} is registered already")
        if every_seconds < 1:
            raise ValueError("a job runs at most once a second")
        self._jobs[name] = JobSpec(name, func, every_seconds)

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)
