"""Xero's limits as one tenant's client keeps them.

Per tenant 60 calls a minute, 5000 a day and 5 at once; per app 10,000 a minute across every
tenant. The remaining-calls headers pace the client (`pacing.xero_pacers`); the published
minute limits are token buckets in PostgreSQL shared by every process (`tenant_budget`, and
`app_budget` across tenants), so the QuickBooks-to-Xero migration's nightly run and a
backfill together stay under them; Dagster's `xero` pool bounds the concurrent calls.
A 429 names the limit it hit in `X-Rate-Limit-Problem`: a spent day is not waited out (the
run fails saying so), a minute is retried after `Retry-After` by the HTTP client.
"""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
from integrations_pipelines.vendors.pacing import RateLimitExhaustedError

__all__ = ["PROBLEM_HEADER", "RateLimitProblem", "app_budget", "tenant_budget"]

PROBLEM_HEADER = "X-Rate-Limit-Problem"


def tenant_budget(engine: sa.Engine, tenant_id: str,
                  per_minute: int = 60) -> SharedRequestBudget:
    """One organisation's minute limit, shared with every process calling it. The day's
    5000 are not a bucket (one sized for a rolling day would allow a call every 18 s after
    a small burst); `X-DayLimit-Remaining` stops the client before the day is spent."""
    return SharedRequestBudget(engine, f"xero:{tenant_id}", [
        RateLimit.window("minute", per_minute, 60.0)])


def app_budget(engine: sa.Engine, client_id: str, per_minute: int = 10_000) -> SharedRequestBudget:
    """The app's limit across every tenant it calls."""
    return SharedRequestBudget(engine, f"xero-app:{client_id}", [
        RateLimit.window("minute", per_minute, 60.0)])


class RateLimitProblem:
    """Reads `X-Rate-Limit-Problem` on a 429: counts each problem, and fails at once when
    the day (or the app's day) is spent instead of sleeping for hours."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def before_request(self) -> None:
        return None

    def observe(self, response: httpx.Response) -> None:
        if response.status_code != 429:
            return
        problem = (response.headers.get(PROBLEM_HEADER) or "unknown").strip().lower()
        self.seen[problem] = self.seen.get(problem, 0) + 1
        # Xero's limits page names them "Daily" and "Minute"; newer answers "day", "minute",
        # "concurrent", "appminute": any day-long window is not waited out.
        if problem.endswith(("day", "daily")):
            raise RateLimitExhaustedError(
                f"Xero's {problem} limit is spent (Retry-After "
                f"{response.headers.get('Retry-After')} s); re-run once it has reset",
                vendor="xero", endpoint="(rate limit)", status=429, body=response.text[:300])
