"""Pacing from the rate-limit headers vendors send, so we slow down before they say no.

Many vendors tell on every answer how many calls remain in the current window: Xero's minute
and day headers (`vendors/xero/pacing.py` builds those pacers), the generic `X-RateLimit-
Remaining` with `X-RateLimit-Reset`, HubSpot's `X-HubSpot-RateLimit-Remaining`.
`RemainingHeaderPacer` spreads the remaining calls over the time left in the window instead
of spending them at once and meeting a 429; a window that cannot be waited out inside a run
(a daily limit) fails loudly instead of sleeping for hours. Shopify's leaky-bucket header
has its own pacer (`shopify/pacing.py`); a vendor's retry-hint header (Stripe's `Stripe-
Should-Retry`) is honoured by the HTTP client's error classification when its client names
it; QuickBooks sends no such header, so its published limits are kept by the shared budget
(`budget.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypedDict, Unpack

import httpx

from integrations_pipelines.vendors.errors import PermanentVendorError

__all__ = ["PacerOptions", "RateLimitExhaustedError", "RemainingHeaderPacer", "generic_pacer"]

# A reset value above this is a Unix timestamp, below it a number of seconds.
_EPOCH_THRESHOLD = 1_000_000_000


class RateLimitExhaustedError(PermanentVendorError):
    """The vendor's window is used up for longer than a run may wait (e.g. a daily limit)."""


class RemainingHeaderPacer:
    """Spreads the calls a vendor says remain over the time left in its window.

    After an answer saying `remaining` calls are left and the window resets in `reset_s`
    (from `reset_header`, else a whole `window_s`), the next call waits so that calls go
    out no faster than `reset_s / (remaining - headroom)` apart (`spread=False`: no
    spreading, for windows too long to spread over); at `headroom` or below it waits for the
    reset. If that wait would exceed `max_wait_s`, it raises
    `RateLimitExhaustedError` naming the header, rather than hang a run.
    """

    def __init__(self, vendor: str, remaining_header: str, window_s: float, *,
                 reset_header: str | None = None, headroom: int = 1, spread: bool = True,
                 max_wait_s: float = 120.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.vendor = vendor
        self.remaining_header = remaining_header
        self.reset_header = reset_header
        self.window_s = window_s
        self.headroom = headroom
        self.spread = spread
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_at = 0.0
        self.waited_s = 0.0

    def _reset_in(self, response: httpx.Response, now: float) -> float:
        raw = response.headers.get(self.reset_header) if self.reset_header else None
        try:
            value = float(raw) if raw is not None else None
        except ValueError:
            value = None
        if value is None:
            return self.window_s
        return max(0.0, value - now if value > _EPOCH_THRESHOLD else value)

    def observe(self, response: httpx.Response) -> None:
        raw = response.headers.get(self.remaining_header)
        try:
            remaining = int(float(raw)) if raw is not None else None
        except ValueError:
            remaining = None
        if remaining is None:
            return
        now = self._clock()
        reset_in = self._reset_in(response, now)
        spendable = remaining - self.headroom
        with self._lock:
            if spendable <= 0:
                self._next_at = max(self._next_at, now + reset_in)
            else:
                self._next_at = now + reset_in / spendable if self.spread else now

    def before_request(self) -> None:
        with self._lock:
            wait = self._next_at - self._clock()
        if wait <= 0:
            return
        if wait > self.max_wait_s:
            raise RateLimitExhaustedError(
                f"{self.remaining_header} says the limit is used up for {wait:.0f} s more; "
                "re-run once the vendor's window has reset",
                vendor=self.vendor, endpoint="(pacing)")
        self.waited_s += wait
        self._sleep(wait)


class PacerOptions(TypedDict, total=False):
    """The `RemainingHeaderPacer` keyword options a pacer factory passes through."""

    headroom: int
    spread: bool
    max_wait_s: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def generic_pacer(vendor: str, window_s: float = 60.0,
                  **kw: Unpack[PacerOptions]) -> RemainingHeaderPacer:
    """The common `X-RateLimit-Remaining` / `X-RateLimit-Reset` pair."""
    return RemainingHeaderPacer(vendor, "X-RateLimit-Remaining", window_s,
                                reset_header="X-RateLimit-Reset", **kw)
