"""The sync ledger: which source record became which destination record, at what version.

The ledger is how a re-run knows a record is already there (and unchanged), and how a
stale source version is kept from overwriting a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.tables import sync_ledger

__all__ = ["LedgerEntry", "get", "get_many", "upsert"]


@dataclass(frozen=True)
class LedgerEntry:
    integration: str
    source_id: str
    business_date: date
    source_version: datetime
    destination_id: str
    destination_key: str
    payload_hash: str
    status: str
    destination_updated_at: datetime | None = None  # the invoice's LastUpdatedTime after it


_ENTRY_COLUMNS = [sync_ledger.c[name] for name in (
    "integration", "source_id", "business_date", "source_version", "destination_id",
    "destination_key", "payload_hash", "status", "destination_updated_at")]


def _entry(row: sa.Row[Any]) -> LedgerEntry:
    return LedgerEntry(**row._mapping)


def get(conn: sa.Connection, integration: str, source_id: str) -> LedgerEntry | None:
    """The last completed write of one source record, if any."""
    row = conn.execute(
        sa.select(*_ENTRY_COLUMNS).where(
            sync_ledger.c.integration == integration, sync_ledger.c.source_id == source_id
        )
    ).first()
    return _entry(row) if row is not None else None


def get_many(conn: sa.Connection, integration: str,
             source_ids: list[str]) -> dict[str, LedgerEntry]:
    """The ledger entries of many source records at once, by source id."""
    if not source_ids:
        return {}
    rows = conn.execute(
        sa.select(*_ENTRY_COLUMNS).where(
            sync_ledger.c.integration == integration, sync_ledger.c.source_id.in_(source_ids)
        )
    )
    return {row.source_id: _entry(row) for row in rows}


def upsert(conn: sa.Connection, entry: LedgerEntry) -> None:
    """Record a completed write; never moves an entry back to an older source version."""
    now = datetime.now(UTC)
    values = {
        "business_date": entry.business_date,
        "source_version": entry.source_version,
        "destination_id": entry.destination_id,
        "destination_key": entry.destination_key,
        "payload_hash": entry.payload_hash,
        "status": entry.status,
        "synced_at": now,
        "destination_updated_at": entry.destination_updated_at,
    }
    stmt = pg_insert(sync_ledger).values(
        integration=entry.integration, source_id=entry.source_id, **values
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["integration", "source_id"],
        set_={**values, "writes": sync_ledger.c.writes + 1},
        where=sync_ledger.c.source_version <= stmt.excluded.source_version,
    )
    conn.execute(stmt)
