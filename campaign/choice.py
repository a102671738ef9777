"""Which target the supporter page shows, and with which variant: the rule, apart from any request.

The order: the deputy of the visitor's postcode (among the open wave's targets when one is open), then
a reminder's assigned target, then the target already on show, then the least contacted of those not
seen in this visit and under the wave's cap (ties at random, so that a crowd spreads over them).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Miss(enum.Enum):
    """Why the postcode's deputy is not the one shown."""

    NONE = "none"
    OUTSIDE_WAVE = "outside_wave"  # a target of the campaign, not of the wave under way (`mine` names them)
    NOT_A_TARGET = "not_a_target"  # not among the campaign's targets at all


@dataclass(frozen=True)
class Choice:
    target_id: int | None
    miss: Miss = Miss.NONE
    mine: int | None = None  # the visitor's deputy, when the wave under way does not aim at them


class HasId(Protocol):
    @property
    def id(self) -> int: ...


V = TypeVar("V", bound=HasId)


def least_contacted(pool: Collection[int], counts: Mapping[int, int], rng: random.Random) -> int | None:
    """The target of `pool` with the fewest messages so far, ties drawn at random."""
    if not pool:
        return None
    fewest = min(counts.get(rid, 0) for rid in pool)
    return rng.choice(sorted(rid for rid in pool if counts.get(rid, 0) == fewest))


def choose_target(
    *,
    targets: Collection[int],
    counts: Mapping[int, int],
    deputies: Sequence[int] | None = None,
    wave_targets: Collection[int] | None = None,
    capped: Collection[int] = (),
    preferred: int | None = None,
    current: int | None = None,
    seen: Collection[int] = (),
    rng: random.Random | None = None,
) -> Choice:
    """Choose the target to show.

    `targets` are the campaign's, `counts` their messages so far; `deputies` the campaign's deputies for the
    visitor's postcode (None without a postcode); `wave_targets` and `capped` the open wave's targets and
    those at their hourly cap (None when no wave is open); `preferred` a reminder's next assigned target;
    `current` the target on show in this visit, `seen` those it skipped or wrote to.
    """
    rng = rng or random.Random()  # noqa: S311 (spreading load over targets, not a secret)
    in_wave = set(wave_targets) if wave_targets is not None else None
    miss, mine = Miss.NONE, None
    if deputies is not None:
        pool = [rid for rid in deputies if in_wave is None or rid in in_wave]
        chosen = least_contacted(pool, counts, rng)
        if chosen is not None:
            return Choice(chosen)
        mine = least_contacted(deputies, counts, rng) if in_wave is not None else None
        miss = Miss.OUTSIDE_WAVE if mine is not None else Miss.NOT_A_TARGET
    if preferred is not None:
        return Choice(preferred, miss, mine)
    if current is not None and current not in seen and current in targets:
        if in_wave is None or (current in in_wave and current not in capped):
            return Choice(current, miss, mine)
    skipped = set(seen) | set(capped)
    pool = [rid for rid in targets if rid not in skipped and (in_wave is None or rid in in_wave)]
    return Choice(least_contacted(pool, counts, rng), miss, mine)


def rotate(variants: Sequence[V], recipient_id: int, last_variant_id: int | None) -> V | None:
    """The variant after the one this target got last, so no target gets the same text twice in a row.

    A target with no history starts at an offset of its own, so first messages spread over variants.
    """
    if not variants:
        return None
    ids = [v.id for v in variants]
    if last_variant_id in ids:
        return variants[(ids.index(last_variant_id) + 1) % len(variants)]
    return variants[recipient_id % len(variants)]
