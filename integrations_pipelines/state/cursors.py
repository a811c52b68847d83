"""Durable change-capture cursors: how far each integration's change feed has been taken in.

A cursor moves only forward, and only once the changes up to its new position are stored in
the raw store and re-synced, so a run that dies half-way repeats its window instead of
skipping it. `advanced_at` is what the change feed's dead-man switch watches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.tables import change_cursors

__all__ = ["Cursor", "advance", "get"]


@dataclass(frozen=True)
class Cursor:
    """A feed's position and when it last moved."""

    position: datetime
    advanced_at: datetime


def get(conn: sa.Connection, integration: str, feed: str) -> Cursor | None:
    """The feed's cursor, or None before its first capture."""
    row = conn.execute(sa.select(change_cursors.c.position, change_cursors.c.advanced_at).where(
        change_cursors.c.integration == integration, change_cursors.c.feed == feed)).first()
    return Cursor(row.position, row.advanced_at) if row else None


def advance(conn: sa.Connection, integration: str, feed: str, position: datetime,
            run_id: str | None) -> None:
    """Move the cursor to `position` (never backwards)."""
    now = datetime.now(UTC)
    stmt = pg_insert(change_cursors).values(integration=integration, feed=feed,
                                            position=position, advanced_at=now, run_id=run_id)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["integration", "feed"],
        set_={"position": sa.func.greatest(change_cursors.c.position, stmt.excluded.position),
              "advanced_at": now, "run_id": run_id}))
