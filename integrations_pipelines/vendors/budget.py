"""A request budget shared by every process that calls the same vendor account.

A vendor's rate limit belongs to the account (QuickBooks: 10 requests/s and 500/min per
realm; Shopify: a 40-request bucket leaking 2/s per shop), not to one process. When the
nightly run and a backfill call the same realm at once, each one pacing itself to the full
limit makes the pair run at twice the limit and into 429s. So the budget lives in
PostgreSQL (`request_budgets`): one token bucket row per account and limit, and every
request, from any process, first reserves a token with one atomic upsert. The bucket may
go negative: a negative balance is a queue of reservations, and the caller sleeps until its
slot (virtual scheduling), so there is no polling loop and no thundering herd.

The buckets are sized from the vendor's published limits with a safety margin: a limit of N
requests per W seconds (a rolling window) becomes a bucket of capacity C and refill r with
C + r * W <= N, so no window of W seconds ever sees more than N requests from us; a leaky
bucket (Shopify) becomes a smaller bucket leaking slightly slower than the vendor's.
Dagster's concurrency pools (see `defs/`) bound how many runs call a vendor at all; this
budget makes the ones that do share its limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

__all__ = ["DEFAULT_UTILISATION", "RateLimit", "SharedRequestBudget"]

# Our share of a vendor limit: the rest is headroom for clock skew, other apps on the same
# account and the vendor's own rounding.
DEFAULT_UTILISATION = 0.95

_RESERVE = sa.text("""
    INSERT INTO request_budgets AS b (bucket, capacity, refill_per_second, tokens, updated_at)
    SELECT bucket, capacity, refill, capacity - 1, clock_timestamp()
    FROM unnest(CAST(:buckets AS text[]), CAST(:capacities AS float8[]),
                CAST(:refills AS float8[])) AS wanted(bucket, capacity, refill)
    ON CONFLICT (bucket) DO UPDATE SET
        capacity = excluded.capacity,
        refill_per_second = excluded.refill_per_second,
        tokens = LEAST(excluded.capacity,
                       b.tokens + excluded.refill_per_second
                       * EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at)) - 1,
        updated_at = clock_timestamp()
    RETURNING bucket, tokens, refill_per_second
""")


@dataclass(frozen=True)
class RateLimit:
    """One published limit of a vendor account, as a token bucket we keep under it."""

    name: str
    capacity: float
    refill_per_second: float

    @classmethod
    def window(cls, name: str, requests: int, seconds: float,
               utilisation: float = DEFAULT_UTILISATION) -> RateLimit:
        """At most `requests` in any rolling window of `seconds` (QuickBooks, Xero)."""
        burst = max(1.0, float(int(requests * (1 - utilisation))))
        return cls(name, burst, (requests - burst) / seconds)

    @classmethod
    def leaky_bucket(cls, name: str, size: int, leak_per_second: float,
                     utilisation: float = DEFAULT_UTILISATION) -> RateLimit:
        """A vendor bucket of `size` requests leaking `leak_per_second` (Shopify)."""
        return cls(name, max(1.0, float(int(size * utilisation))),
                   leak_per_second * utilisation)


class SharedRequestBudget:
    """Paces one vendor account's requests through token buckets in PostgreSQL.

    Implements the HTTP client's `Pacer`: `before_request` reserves one request in every
    bucket of the account and sleeps until the latest slot. `waited_s` and `reservations`
    say how much pacing it did (materialization metadata).
    """

    def __init__(self, engine: sa.Engine, account: str, limits: Sequence[RateLimit], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not limits:
            raise ValueError("a request budget needs at least one limit")
        self.engine = engine
        self.account = account
        self.limits = tuple(limits)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._params = {
            "buckets": [f"{account}:{limit.name}" for limit in self.limits],
            "capacities": [limit.capacity for limit in self.limits],
            "refills": [limit.refill_per_second for limit in self.limits],
        }
        self.waited_s = 0.0
        self.reservations = 0

    @property
    def allowed_per_second(self) -> float:
        """The sustained rate this budget lets through (the slowest bucket's refill)."""
        return min(limit.refill_per_second for limit in self.limits)

    def reserve(self) -> float:
        """Take one request from every bucket; return the seconds to wait for the slot."""
        with self.engine.begin() as conn:
            rows = conn.execute(_RESERVE, self._params).all()
        return max((-row.tokens / row.refill_per_second for row in rows if row.tokens < 0),
                   default=0.0)

    def before_request(self) -> None:
        wait = self.reserve()
        with self._lock:
            self.reservations += 1
            self.waited_s += wait
        if wait > 0:
            self._sleep(wait)

    def observe(self, response: httpx.Response) -> None:
        """The shared budget needs no answer: the vendor's own headers pace elsewhere."""
