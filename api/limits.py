"""Per-token rate limits: a token bucket per token, in each API worker process.

A token may send `burst` requests at once and then `rate` a second on average; one
more is a 429 with `Retry-After` (whole seconds until a request would pass) and sends
nothing to the database. A month's batch is one request, so an honest client never
meets the limit; a runaway script does, and cannot starve the other parties. Buckets
live in the worker's memory: with N workers a token gets up to N times the rate, and
a restart forgets them, which errs towards letting a client through.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.problems import Problem


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when `tokens` was counted (monotonic seconds)


class RateLimiter:
    """`check(key)` counts a request for `key`, raising a 429 Problem when its bucket is empty."""

    PRUNE_AT = 10_000  # buckets kept before the full ones (equal to no bucket) are dropped

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return  # LEDGER_RATE_LIMIT=0: no limit
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        raise too_many_requests(math.ceil((1.0 - bucket.tokens) / self.rate), self.rate, self.burst)

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]


def too_many_requests(retry_after: int, rate: float, burst: int) -> Problem:
    detail = (f"this token sent more than {burst} requests at once or {rate:g} a second on average; "
              "nothing was done: send the request again after Retry-After seconds (post a month's events as one batch)")
    problem = Problem(429, "too-many-requests", "Too many requests", detail)
    problem.headers["Retry-After"] = str(max(1, retry_after))
    return problem
