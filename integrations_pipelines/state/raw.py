"""The raw store: what every vendor returned, in one table (`raw_records`) for every source.

A record belongs to a kind, `RecordKind(system, record_type, account)` (Shopify orders of
the default shop, the invoices of one QuickBooks company, ...), and is keyed within it by the
vendor's own id. What a vendor's record is keyed, dated and versioned by, and which of its
facts are kept apart from the payload, is the vendor's business
(`vendors/<vendor>/records.py`); this module knows no vendor, so a new source needs no
migration of its own.

Writes are idempotent by construction: `replace_window` deletes the kind's window and inserts
what was read, in the caller's transaction, so a re-run of any partition (or range) leaves
exactly one row per record. `upsert_newer` stores changes captured after the day closed,
whatever their day; a stored newer version is never replaced by an older one (a late page, an
overlapping poll, a redelivered webhook). `version` is the vendor's version of the record;
when the vendor states none, the extraction time stands in.

Reads come back ordered by key, numeric keys in numeric order (by length, then text): a
window of Shopify orders comes back in order-id order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.tables import raw_records

__all__ = [
    "DEFAULT_ACCOUNT",
    "RawRecord",
    "RecordKind",
    "StoredRecord",
    "count_window",
    "counts_by_day",
    "duplicated_external_keys",
    "of_kind",
    "records_by_key",
    "replace_window",
    "upsert_newer",
    "window",
    "window_of_every_account",
]

DEFAULT_ACCOUNT = "default"  # the account of a source that has only one (one shop)
_UPDATED = ("business_date", "version", "external_key", "facts", "payload", "extracted_at",
            "run_id")


@dataclass(frozen=True)
class RecordKind:
    """Which records: a vendor (`system`), its record type, and the vendor account."""

    system: str
    record_type: str
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, kw_only=True)
class RawRecord:
    """One record as a vendor shaped it for the store (`vendors/<vendor>/records.py`).

    `version`: the vendor's version of the record (None: it states none, and the extraction
    time stands in). `facts`: the few typed facts other code filters on, JSON values
    (decimals as text).
    """

    record_key: str
    business_date: date
    version: datetime | None
    payload: dict[str, Any]
    external_key: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StoredRecord:
    """One row of the raw store, as read back."""

    kind: RecordKind
    record_key: str
    business_date: date
    version: datetime
    external_key: str | None
    facts: dict[str, Any]
    payload: dict[str, Any]
    extracted_at: datetime
    run_id: str | None


def of_kind(kind: RecordKind) -> sa.ColumnElement[bool]:
    """The condition selecting the rows of one kind (for queries joining other tables)."""
    return sa.and_(raw_records.c.system == kind.system,
                   raw_records.c.record_type == kind.record_type,
                   raw_records.c.account == kind.account)


def _in_days(start: date, end: date) -> sa.ColumnElement[bool]:
    return sa.and_(raw_records.c.business_date >= start, raw_records.c.business_date < end)


def _by_key() -> tuple[sa.ColumnElement[Any], ...]:
    """Numeric keys in numeric order (shorter first), any key in a stable order."""
    return (sa.func.length(raw_records.c.record_key), raw_records.c.record_key)


def _rows(kind: RecordKind, records: Iterable[RawRecord], run_id: str | None,
          ) -> list[dict[str, Any]]:
    """Insert parameters, one per key: a record given twice keeps its newest version."""
    now = datetime.now(UTC)
    newest: dict[str, dict[str, Any]] = {}
    for record in records:
        row = {
            "system": kind.system, "record_type": kind.record_type, "account": kind.account,
            "record_key": record.record_key, "business_date": record.business_date,
            "version": record.version or now, "external_key": record.external_key,
            "facts": dict(record.facts), "payload": record.payload,
            "extracted_at": now, "run_id": run_id,
        }
        held = newest.get(record.record_key)
        if held is None or held["version"] <= row["version"]:
            newest[record.record_key] = row
    return list(newest.values())


def _stored(row: sa.Row[Any]) -> StoredRecord:
    return StoredRecord(
        kind=RecordKind(row.system, row.record_type, row.account), record_key=row.record_key,
        business_date=row.business_date, version=row.version, external_key=row.external_key,
        facts=row.facts, payload=row.payload, extracted_at=row.extracted_at, run_id=row.run_id)


def replace_window(conn: sa.Connection, kind: RecordKind, start: date, end: date,
                   records: Sequence[RawRecord], run_id: str | None) -> None:
    """Replace the kind's records of business days [start, end) with `records`.

    A record stored under another day (an invoice whose TxnDate was changed) moves into the
    window: one row per record, whatever its day.
    """
    conn.execute(raw_records.delete().where(of_kind(kind), _in_days(start, end)))
    rows = _rows(kind, records, run_id)
    if not rows:
        return
    stmt = pg_insert(raw_records)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=list(raw_records.primary_key.columns.keys()),
        set_={name: stmt.excluded[name] for name in _UPDATED}), rows)


def upsert_newer(conn: sa.Connection, kind: RecordKind, records: Sequence[RawRecord],
                 run_id: str | None) -> None:
    """Store changed records whatever their day; a stored newer version is never replaced
    by an older one (the same version is stored again)."""
    rows = _rows(kind, records, run_id)
    if not rows:
        return
    stmt = pg_insert(raw_records)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=list(raw_records.primary_key.columns.keys()),
        set_={name: stmt.excluded[name] for name in _UPDATED},
        where=raw_records.c.version <= stmt.excluded.version), rows)


def records_by_key(conn: sa.Connection, kind: RecordKind,
                   keys: Collection[str]) -> list[StoredRecord]:
    """The stored records of the given keys (those the store holds), by key."""
    if not keys:
        return []
    return [_stored(row) for row in conn.execute(
        sa.select(raw_records).where(of_kind(kind), raw_records.c.record_key.in_(list(keys)))
        .order_by(*_by_key()))]


def window(conn: sa.Connection, kind: RecordKind, start: date,
           end: date) -> list[StoredRecord]:
    """The kind's records of business days [start, end), by key."""
    return [_stored(row) for row in conn.execute(
        sa.select(raw_records).where(of_kind(kind), _in_days(start, end))
        .order_by(*_by_key()))]


def window_of_every_account(conn: sa.Connection, system: str, record_type: str, start: date,
                            end: date) -> list[StoredRecord]:
    """The records of business days [start, end) of every account of one record type, by
    key (then account)."""
    return [_stored(row) for row in conn.execute(
        sa.select(raw_records).where(raw_records.c.system == system,
                                     raw_records.c.record_type == record_type,
                                     _in_days(start, end))
        .order_by(*_by_key(), raw_records.c.account))]


def count_window(conn: sa.Connection, kind: RecordKind, start: date, end: date) -> int:
    """How many records of the kind business days [start, end) hold."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(raw_records)
                            .where(of_kind(kind), _in_days(start, end))).scalar_one())


def counts_by_day(conn: sa.Connection, kind: RecordKind, start: date,
                  end: date) -> dict[date, int]:
    """Records of the kind per business day in [start, end); days without any are absent."""
    day = raw_records.c.business_date
    return {row[0]: int(row[1]) for row in conn.execute(
        sa.select(day, sa.func.count()).where(of_kind(kind), _in_days(start, end))
        .group_by(day))}


def duplicated_external_keys(conn: sa.Connection, kind: RecordKind, start: date, end: date,
                             *, unless_fact: str | None = None) -> list[tuple[str, int]]:
    """External keys held by more than one record of the window, with how many; records
    whose boolean fact `unless_fact` is true (e.g. a voided copy) are not counted."""
    key = raw_records.c.external_key
    query = sa.select(key, sa.func.count()).where(of_kind(kind), _in_days(start, end),
                                                  key.is_not(None))
    if unless_fact is not None:
        query = query.where(
            sa.func.coalesce(raw_records.c.facts[unless_fact].as_boolean(), False).is_(False))
    return [(row[0], int(row[1])) for row in conn.execute(
        query.group_by(key).having(sa.func.count() > 1).order_by(key))]
