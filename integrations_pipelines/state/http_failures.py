"""Failed vendor calls, kept for diagnosis: the evidence behind "missing because of a 429".

The HTTP client reports each failed attempt (no headers, no secrets) to a sink; the store
keeps it with its run, so reconciliation can name throttling or expired credentials as the
likely cause of what is missing, and a failed run's alert can say how many calls failed.
"""

from datetime import UTC, datetime

import sqlalchemy as sa

from integrations_pipelines.state.tables import http_failures

__all__ = ["counts_for_run", "record"]


def record(engine: sa.Engine, *, vendor: str, endpoint: str, status: int | None, error: str,
           retried: bool, run_id: str | None) -> None:
    """Keep one failed call (the error cut to 2,000 characters)."""
    with engine.begin() as conn:
        conn.execute(http_failures.insert().values(
            vendor=vendor, endpoint=endpoint, status=status, error=error[:2000],
            retried=retried, occurred_at=datetime.now(UTC), run_id=run_id))


def counts_for_run(conn: sa.Connection, run_id: str) -> tuple[int, int]:
    """How many calls failed during the run, and how many of them were 429s."""
    total, limited = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(http_failures.c.status == 429))
        .where(http_failures.c.run_id == run_id)).one()
    return int(total), int(limited)
