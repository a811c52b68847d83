"""A request budget shared by every process that calls the same vendor account.

A vendor's rate limit belongs to the account (QuickBooks: 10 requests/s and 500/min per
realm; Shopify: a 40-request bucket leaking 2/s per shop), not to one process. When the
nightly run and a backfill call the same realm at once, each one pacing itself to the full
limit makes the pair run at twice the limit and into 429s. So the budget lives in
PostgreSQL (`request_budgets`): one token bucket row per account and limit, and every
request, from any process, first reserves a token with one atomic upsert. The bucket may
go negative: a negative balance is a queue of reservations, and the caller sleeps until its
slot (virtual scheduling), so there is no polling loop and no thundering herd.

A round trip per request is a sizeable share of a busy sync's time, so while every bucket
has tokens to spare (no queue) one upsert takes a few of them at once (`batch`) and the
process hands them out to its next requests. A token taken ahead is used within `hold_s` of
its reservation or thrown away (never returned), so a request goes out no later after its
reservation than an ordinary request's latency; as soon as a bucket has a queue, each
reservation takes one token and its own slot, as before.

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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

__all__ = ["DEFAULT_BATCH", "DEFAULT_HOLD_S", "DEFAULT_UTILISATION", "RateLimit",
           "SharedRequestBudget"]

# Our share of a vendor limit: the rest is headroom for clock skew, other apps on the same
# account and the vendor's own rounding.
DEFAULT_UTILISATION = 0.95
# Tokens one reservation may take while no bucket has a queue, and how long one taken ahead
# stays usable: about one request's latency to a vendor.
DEFAULT_BATCH = 8
DEFAULT_HOLD_S = 0.1

_RESERVE = sa.text("""
    WITH wanted AS (
        SELECT bucket, capacity, refill
        FROM unnest(CAST(:buckets AS text[]), CAST(:capacities AS float8[]),
                    CAST(:refills AS float8[])) AS w(bucket, capacity, refill)
    ), take AS (
        SELECT GREATEST(1, LEAST(CAST(:batch AS int), floor(min(
            CASE WHEN b.bucket IS NULL THEN w.capacity
                 ELSE LEAST(w.capacity, b.tokens + w.refill
                            * EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at)) END))))
            AS n
        FROM wanted AS w LEFT JOIN request_budgets AS b ON b.bucket = w.bucket
    )
    INSERT INTO request_budgets AS b (bucket, capacity, refill_per_second, tokens, updated_at)
    SELECT wanted.bucket, wanted.capacity, wanted.refill, wanted.capacity - take.n,
           clock_timestamp()
    FROM wanted CROSS JOIN take
    ON CONFLICT (bucket) DO UPDATE SET
        capacity = excluded.capacity,
        refill_per_second = excluded.refill_per_second,
        tokens = LEAST(excluded.capacity,
                       b.tokens + excluded.refill_per_second
                       * EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at))
                 - (excluded.capacity - excluded.tokens),
        updated_at = clock_timestamp()
    RETURNING bucket, tokens, refill_per_second, (SELECT n FROM take) AS taken
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
    say how much pacing it did (materialization metadata); `round_trips` how many upserts
    the reservations took.
    """

    def __init__(self, engine: sa.Engine, account: str, limits: Sequence[RateLimit], *,
                 sleep: Callable[[float], None] = time.sleep, batch: int = DEFAULT_BATCH,
                 hold_s: float = DEFAULT_HOLD_S) -> None:
        if not limits:
            raise ValueError("a request budget needs at least one limit")
        self.engine = engine
        self.account = account
        self.limits = tuple(limits)
        self.hold_s = hold_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._params = {
            "buckets": [f"{account}:{limit.name}" for limit in self.limits],
            "capacities": [limit.capacity for limit in self.limits],
            "refills": [limit.refill_per_second for limit in self.limits],
            "batch": max(1, batch),
        }
        self._ahead: deque[float] = deque()  # tokens taken ahead: the time each expires
        self.waited_s = 0.0
        self.reservations = 0
        self.round_trips = 0

    @property
    def allowed_per_second(self) -> float:
        """The sustained rate this budget lets through (the slowest bucket's refill)."""
        return min(limit.refill_per_second for limit in self.limits)

    def reserve(self) -> float:
        """Take one request from every bucket; return the seconds to wait for the slot."""
        with self._lock:
            now = time.monotonic()
            while self._ahead:
                if self._ahead.popleft() >= now:
                    return 0.0  # taken ahead, free to go now
            # One statement, so one transaction of its own: no BEGIN and COMMIT round trips.
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                rows = conn.execute(_RESERVE, self._params).all()
            self.round_trips += 1
            taken = int(rows[0].taken)
            # The i-th token of the take left its bucket at `tokens + (taken - i)`: a
            # negative balance is that many reservations queued ahead of it.
            waits = [max((-(row.tokens + taken - i) / row.refill_per_second
                          for row in rows if row.tokens + taken - i < 0), default=0.0)
                     for i in range(1, taken + 1)]
            self._ahead.extend(now + wait + self.hold_s for wait in waits[1:] if wait <= 0)
            return waits[0]

    def before_request(self) -> None:
        wait = self.reserve()
        with self._lock:
            self.reservations += 1
            self.waited_s += wait
        if wait > 0:
            self._sleep(wait)

    def observe(self, response: httpx.Response) -> None:
        """The shared budget needs no answer: the vendor's own headers pace elsewhere."""
