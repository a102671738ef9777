"""The clicks not folded yet, shared by every web node through Redis (distributed mode)."""

from __future__ import annotations

import logging
import time

import redis

SHARED_WINDOW = 3  # seconds of clicks kept in Redis: longer than the page's counts' age (1 s) and a fold
logger = logging.getLogger(__name__)


class SharedClicks:
    """The clicks of the last `SHARED_WINDOW` seconds, counted in Redis by every web node (one hash a campaign
    and second): what the fold has not folded yet, so that a target another node just gave out is not given
    out again here. It may count a click the fold has folded already for a second or two; the choice is a
    spreading rule and the tallies stay the fold's. Redis down: each node counts its own (and logs it)."""

    def __init__(self, url: str, *, prefix: str = "pv:clicks") -> None:
        self.redis = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self.prefix = prefix
        self._quiet_until = 0.0

    def _key(self, campaign_id: int, second: int) -> str:
        return f"{self.prefix}:{campaign_id}:{second}"

    def add(self, campaign_id: int, recipient_id: int) -> bool:
        key = self._key(campaign_id, int(time.time()))
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hincrby(key, str(recipient_id), 1)
            pipe.expire(key, SHARED_WINDOW + 2)
            pipe.execute()
        except redis.RedisError as error:
            self._complain(error)
            return False
        return True

    def recent(self, campaign_id: int) -> dict[int, int]:
        now = int(time.time())
        try:
            pipe = self.redis.pipeline(transaction=False)
            for second in range(now - SHARED_WINDOW + 1, now + 1):
                pipe.hgetall(self._key(campaign_id, second))
            buckets = pipe.execute()
        except redis.RedisError as error:
            self._complain(error)
            return {}
        counts: dict[int, int] = {}
        for bucket in buckets:
            for recipient_id, count in bucket.items():
                counts[int(recipient_id)] = counts.get(int(recipient_id), 0) + int(count)
        return counts

    def _complain(self, error: Exception) -> None:
        if time.monotonic() >= self._quiet_until:
            logger.warning("page counts: Redis did not answer (%s); this node counts its own clicks", error)
            self._quiet_until = time.monotonic() + 30
