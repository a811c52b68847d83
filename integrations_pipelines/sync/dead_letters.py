"""Dead letters: every record we could not move, with its reason and payload, replayable.

Nothing is dropped without a trace: a record that fails validation, mapping or a permanent
destination rejection is kept here (one open letter per record, attempts counted) until a
later attempt syncs it, which resolves the letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.payloads import storable
from integrations_pipelines.state.tables import dead_letters

__all__ = ["PAIR_REPLAYS", "DeadLetter", "open_letters", "record", "refusals", "resolve",
           "run_command"]

# How each pair replays its letters from the environment: "module:function", a context
# manager (engine, entry) -> (the pair's RecordSync, the source's record model).
PAIR_REPLAYS = {
    ("shopify", "quickbooks"): "integrations_pipelines.sync.shopify_to_quickbooks:replay_binding",
    ("shopify", "xero"): "integrations_pipelines.sync.shopify_to_xero:replay_binding",
}


@dataclass(frozen=True)
class DeadLetter:
    integration: str
    source_id: str
    business_date: date | None
    stage: str
    reason_code: str
    reason: str
    payload: Any
    vendor_request_id: str | None = None  # e.g. QuickBooks' intuit_tid of a rejected write


def record(conn: sa.Connection, letter: DeadLetter) -> None:
    """Open a dead letter, or count one more attempt on the open one for this record."""
    now = datetime.now(UTC)
    stmt = pg_insert(dead_letters).values(
        integration=letter.integration,
        source_id=letter.source_id,
        business_date=letter.business_date,
        stage=letter.stage,
        reason_code=letter.reason_code,
        reason=letter.reason,
        payload=storable(letter.payload),
        vendor_request_id=letter.vendor_request_id,
        first_seen_at=now,
        last_seen_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["integration", "source_id"],
        index_where=sa.text("resolved_at IS NULL"),
        set_={
            "stage": stmt.excluded.stage,
            "reason_code": stmt.excluded.reason_code,
            "reason": stmt.excluded.reason,
            "payload": stmt.excluded.payload,
            "vendor_request_id": stmt.excluded.vendor_request_id,
            "business_date": stmt.excluded.business_date,
            "attempts": dead_letters.c.attempts + 1,
            "last_seen_at": now,
        },
    )
    conn.execute(stmt)


def resolve(conn: sa.Connection, integration: str, source_id: str) -> None:
    """Close the open letter of a record that has now been synced."""
    conn.execute(
        dead_letters.update()
        .where(
            dead_letters.c.integration == integration,
            dead_letters.c.source_id == source_id,
            dead_letters.c.resolved_at.is_(None),
        )
        .values(resolved_at=datetime.now(UTC))
    )


def refusals(conn: sa.Connection, integration: str, source_id: str) -> int:
    """How many times the record's open letter was recorded (0: none open). A write the
    destination refused is retried under a new idempotency key: the vendor answers a
    repeated key with its first answer, the refusal."""
    attempts = conn.execute(sa.select(dead_letters.c.attempts).where(
        dead_letters.c.integration == integration, dead_letters.c.source_id == source_id,
        dead_letters.c.resolved_at.is_(None))).scalar()
    return int(attempts or 0)


def open_letters(
    conn: sa.Connection,
    integration: str,
    *,
    start: date | None = None,
    end: date | None = None,
    stage: str | None = None,
) -> list[sa.Row[Any]]:
    """Open letters of an integration, optionally in [start, end) and for one stage."""
    query = sa.select(dead_letters).where(
        dead_letters.c.integration == integration, dead_letters.c.resolved_at.is_(None)
    )
    if start is not None:
        query = query.where(dead_letters.c.business_date >= start)
    if end is not None:
        query = query.where(dead_letters.c.business_date < end)
    if stage is not None:
        query = query.where(dead_letters.c.stage == stage)
    return list(conn.execute(query.order_by(dead_letters.c.id)))


def run_command(action: str, integration: str, reason_code: str | None,
                from_date: str | None, to_date: str | None) -> int:
    """`integrations-pipelines dead-letters list|replay` for any pair of the catalog: the
    listing needs only the store; a replay takes the pair's binding (`PAIR_REPLAYS`) and
    runs its stored payloads through the current mapping and the same idempotent write
    path as a nightly run (`sync/replay.py`). Exit 2 for a bad selection, 1 if letters
    remain after a replay."""
    import importlib
    import sys

    from integrations_pipelines.catalog import integration as lookup
    from integrations_pipelines.settings import database_url
    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.sync.replay import (
        LetterFilter,
        describe_letters,
        replay_dead_letters,
    )

    try:
        which = LetterFilter.from_days(integration, reason_code, from_date, to_date)
        entry = lookup(integration)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"invalid selection: {exc}", file=sys.stderr)
        return 2
    engine = engine_for(database_url())
    if action == "list":
        with engine.connect() as conn:
            print(describe_letters(which.select(conn)))
        return 0
    target = PAIR_REPLAYS.get((entry.source, entry.destination))
    if target is None:
        print(f"{integration} ({entry.source} -> {entry.destination}) has no replay from the "
              "command line; use its dead-letter replay job", file=sys.stderr)
        return 2
    module, name = target.split(":")
    binding = getattr(importlib.import_module(module), name)
    with binding(engine, entry) as (sync, model):
        outcome = replay_dead_letters(engine, sync, model, which)
    print(outcome.summary())
    return 1 if outcome.still_failing else 0
