"""Pacing from Shopify's leaky bucket header, so we slow down before a 429."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

__all__ = ["CALL_LIMIT_HEADER", "ShopifyBucketPacer"]

CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"


class ShopifyBucketPacer:
    """Keeps the shop's call bucket below `headroom` free slots of full.

    Shopify answers `X-Shopify-Shop-Api-Call-Limit: used/capacity` on every call and leaks
    `leak_per_s` calls per second (2/s on the standard plan). When the bucket is nearly
    full we wait until enough has leaked, instead of running into 429s.
    """

    def __init__(self, leak_per_s: float = 2.0, headroom: int = 4,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.leak_per_s = leak_per_s
        self.headroom = headroom
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._used = 0.0
        self._capacity: int | None = None
        self._seen_at = 0.0
        self.waited_s = 0.0

    def _estimated_used(self) -> float:
        elapsed = self._clock() - self._seen_at
        return max(0.0, self._used - elapsed * self.leak_per_s)

    def before_request(self) -> None:
        with self._lock:
            if self._capacity is None:
                return
            excess = self._estimated_used() + 1 - (self._capacity - self.headroom)
            wait = excess / self.leak_per_s if excess > 0 else 0.0
            # Count this request in the estimate so concurrent callers spread out.
            self._used = self._estimated_used() + 1
            self._seen_at = self._clock()
        if wait > 0:
            self.waited_s += wait
            self._sleep(wait)

    def observe(self, response: httpx.Response) -> None:
        value = response.headers.get(CALL_LIMIT_HEADER)
        if not value or "/" not in value:
            return
        used, _, capacity = value.partition("/")
        try:
            used_n, cap_n = float(used), int(capacity)
        except ValueError:
            return
        with self._lock:
            self._used, self._capacity, self._seen_at = used_n, cap_n, self._clock()
