"""Whether the raw records of a window are accounted for: the queries behind the checks.

A source record is accounted for when the sync ledger holds it (synced, voided, or settled
by policy without a destination record) or an open dead letter gives its reason; a
destination record proves the ledger's claim. The ledger and the dead letters name a source
record by its key (`source_id` = `raw_records.record_key`), whatever the vendor. The Dagster
checks (`defs/`) call these and hold no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from integrations_pipelines.state.raw import RecordKind, of_kind
from integrations_pipelines.state.tables import dead_letters, raw_records, sync_ledger

__all__ = ["Expectation", "Settlement", "expected_in_window", "ledger_without_destination",
           "settled_in_window"]


@dataclass(frozen=True)
class Settlement:
    """How the source records of a window ended: `settled` (in the ledger at their current
    version, `skipped` by policy among them), `dead_lettered` (and not settled), and the
    keys of those `pending`, neither."""

    records: int
    settled: int
    dead_lettered: int
    skipped: int
    pending: list[str]


@dataclass(frozen=True)
class Expectation:
    """Source records of a window, and those that expect no destination record: an open
    dead letter, or settled by policy without one (test orders)."""

    records: int
    dead_lettered: int
    skipped: int

    @property
    def expected(self) -> int:
        return self.records - self.dead_lettered - self.skipped


def _open_letter(integration: str) -> sa.Exists:
    return sa.exists().where(dead_letters.c.integration == integration,
                             dead_letters.c.source_id == raw_records.c.record_key,
                             dead_letters.c.resolved_at.is_(None))


def _in_days(start: date, end: date) -> sa.ColumnElement[bool]:
    return sa.and_(raw_records.c.business_date >= start, raw_records.c.business_date < end)


def settled_in_window(conn: sa.Connection, source: RecordKind, integration: str, start: date,
                      end: date, *, skipped_status: str) -> Settlement:
    """Each source record of business days [start, end): in the ledger at its current
    version (or later), dead-lettered, or pending."""
    settled = (sync_ledger.c.integration == integration,
               sync_ledger.c.source_id == raw_records.c.record_key,
               sync_ledger.c.source_version >= raw_records.c.version)
    synced = sa.exists().where(*settled)
    skipped = sa.exists().where(*settled, sync_ledger.c.status == skipped_status)
    lettered = _open_letter(integration)
    in_window = sa.and_(of_kind(source), _in_days(start, end))
    records, settled_count, dead_lettered, skipped_count = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(synced),
                  sa.func.count().filter(sa.and_(~synced, lettered)),
                  sa.func.count().filter(skipped))
        .select_from(raw_records).where(in_window)
    ).one()
    pending = conn.execute(
        sa.select(raw_records.c.record_key).where(in_window, ~synced, ~lettered)
        .order_by(sa.func.length(raw_records.c.record_key), raw_records.c.record_key)
    ).scalars().all()
    return Settlement(int(records), int(settled_count), int(dead_lettered),
                      int(skipped_count), list(pending))


def expected_in_window(conn: sa.Connection, source: RecordKind, integration: str,
                       start: date, end: date, *, skipped_status: str) -> Expectation:
    """Source records of business days [start, end), and those expecting no destination
    record (an open dead letter; skipped by policy, at any version, and not lettered)."""
    lettered = _open_letter(integration)
    skipped = sa.exists().where(sync_ledger.c.integration == integration,
                                sync_ledger.c.source_id == raw_records.c.record_key,
                                sync_ledger.c.status == skipped_status)
    records, dead_lettered, not_booked = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(lettered),
                  sa.func.count().filter(skipped & ~lettered))
        .select_from(raw_records).where(of_kind(source), _in_days(start, end))
    ).one()
    return Expectation(int(records), int(dead_lettered), int(not_booked))


def ledger_without_destination(conn: sa.Connection, integration: str,
                               destination: RecordKind, start: date, end: date, *,
                               skipped_status: str) -> list[tuple[str, str]]:
    """(source id, destination key) of the ledger rows of business days [start, end) whose
    destination record the raw store does not hold (rows skipped by policy have none)."""
    held = sa.exists().where(of_kind(destination),
                             raw_records.c.record_key == sync_ledger.c.destination_id)
    rows = conn.execute(
        sa.select(sync_ledger.c.source_id, sync_ledger.c.destination_key)
        .where(sync_ledger.c.integration == integration,
               sync_ledger.c.status != skipped_status,
               sync_ledger.c.business_date >= start, sync_ledger.c.business_date < end,
               ~held)
    ).all()
    return [(row.source_id, row.destination_key) for row in rows]
