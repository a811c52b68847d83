"""Per-endpoint request counts and latencies, surfaced as Dagster materialization metadata."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import quantiles

__all__ = ["EndpointStats", "HttpMetrics", "percentile"]


@dataclass
class EndpointStats:
    """What one endpoint did during a run."""

    success: int = 0
    retried: int = 0
    rate_limited: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.success + self.retried + self.rate_limited + self.failed


def percentile(values: list[float], pct: int) -> float:
    """The `pct`-th percentile, 1-99 (0 for no values; the value itself for one)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return quantiles(values, n=100, method="inclusive")[pct - 1]


class HttpMetrics:
    """Thread-safe tally of every attempt, by endpoint name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.endpoints: dict[str, EndpointStats] = defaultdict(EndpointStats)

    def record(self, endpoint: str, status: int | None, latency_ms: float, *,
               outcome: str) -> None:
        with self._lock:
            stats = self.endpoints[endpoint]
            setattr(stats, outcome, getattr(stats, outcome) + 1)
            stats.latencies_ms.append(latency_ms)

    @property
    def retries(self) -> int:
        """Attempts that failed transiently (and were retried while budget remained)."""
        return sum(s.retried + s.rate_limited for s in self.endpoints.values())

    @property
    def rate_limited(self) -> int:
        return sum(s.rate_limited for s in self.endpoints.values())

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.endpoints.values())

    def p95_ms(self) -> float:
        return percentile([v for s in self.endpoints.values() for v in s.latencies_ms], 95)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per endpoint: counts and latency percentiles, for metadata and logs."""
        with self._lock:
            return {
                name: {
                    "requests": s.requests,
                    "success": s.success,
                    "retried": s.retried,
                    "rate_limited": s.rate_limited,
                    "failed": s.failed,
                    **{f"p{pct}_ms": round(percentile(s.latencies_ms, pct), 1)
                       for pct in (50, 95, 99)},
                }
                for name, s in sorted(self.endpoints.items())
            }
