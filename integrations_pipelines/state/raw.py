"""The raw store: what every vendor returned, in one table (`raw_records`) for every source.

A record belongs to a kind, `RecordKind(system, record_type, account)` (Shopify orders of
the default shop, the invoices of one QuickBooks company, ...), and is keyed within it by the
vendor's own id. What a vendor's record is keyed, dated and versioned by, and which of its
facts are kept apart from the payload, is the vendor's business
(`vendors/<vendor>/records.py`); this module knows no vendor, so a new source needs no
migration of its own.

Writes are idempotent by construction and write only what changed: `replace_window` makes
the kind's window exactly what was read, in the caller's transaction (the rows are COPYed
into a staging table, one upsert guarded by `IS DISTINCT FROM` writes new and changed rows
only, and the window's vanished keys are deleted), so a re-run of any partition (or range)
leaves exactly one row per record, and a replay of an unchanged window writes none
(`extracted_at` and `run_id` then stay those of the run that last changed the row).
`WindowReplacement` is the same write a page at a time, for a window too long to hold: each
page is merged as it comes (the caller may commit between pages), the keys read are kept in
PostgreSQL, and the vanished keys are deleted once the whole window has been read. A
window with nothing stored yet (a first load, a backfill's new day) takes its pages by COPY
straight into the table (a binary COPY made straight from the records), with no staging and
no comparison, until a page meets a key the store holds (the primary key refuses it, in a
savepoint) and the guarded merge takes over.
`upsert_newer` stores changes captured after the day closed, whatever their day; a stored
newer version is never replaced by an older one (a late page, an overlapping poll, a
redelivered webhook). `version` is the vendor's version of the record; when the vendor
states none, the extraction time stands in.

Reads come back ordered by key, numeric keys in numeric order (by length, then text): a
window of Shopify orders comes back in order-id order. `window_chunks` reads a window a
chunk at a time (day by day, by key within a day), one short query per chunk, for readers
that must not hold the whole window.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import orjson
import psycopg
import sqlalchemy as sa
from psycopg.types.string import BytesBinaryDumper

from integrations_pipelines.state.tables import raw_records

__all__ = [
    "CHUNK",
    "DEFAULT_ACCOUNT",
    "RawRecord",
    "RecordKind",
    "StoredRecord",
    "WindowReplacement",
    "WindowWrite",
    "count_window",
    "counts_by_day",
    "duplicated_external_keys",
    "insert_rows",
    "of_kind",
    "records_by_key",
    "replace_window",
    "stage",
    "upsert_newer",
    "window",
    "window_chunks",
    "window_of_every_account",
]

CHUNK = 250  # records per chunk of `window_chunks` (a page of Shopify orders)
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


def insert_rows(kind: RecordKind, records: Iterable[RawRecord], run_id: str | None,
                ) -> list[dict[str, Any]]:
    """Insert parameters, one per key: a record given twice keeps its newest version."""
    now = datetime.now(UTC)
    return _params(kind, _newest(records, now), run_id, now)


def _params(kind: RecordKind, records: Iterable[RawRecord], run_id: str | None,
            now: datetime) -> list[dict[str, Any]]:
    """The rows of records of one key each, extracted `now`, as insert parameters."""
    return [{
        "system": kind.system, "record_type": kind.record_type, "account": kind.account,
        "record_key": record.record_key, "business_date": record.business_date,
        "version": record.version or now, "external_key": record.external_key,
        "facts": dict(record.facts), "payload": record.payload,
        "extracted_at": now, "run_id": run_id,
    } for record in records]


def _newest(records: Iterable[RawRecord], now: datetime) -> list[RawRecord]:
    """One record per key, in the order the keys first came: a key given twice (a page
    repeated by the vendor) keeps its newest version, the later one of equal versions; a
    record without a version counts as of `now`. A page without repeated keys (the usual
    one) comes back as it is."""
    given = list(records)
    if len({record.record_key for record in given}) == len(given):
        return given
    newest: dict[str, RawRecord] = {}
    for record in given:
        held = newest.get(record.record_key)
        if held is None or (held.version or now) <= (record.version or now):
            newest[record.record_key] = record
    return list(newest.values())


@dataclass(frozen=True)
class WindowWrite:
    """What a write did to the store: rows inserted or changed, rows deleted."""

    written: int
    deleted: int


def _stored(row: sa.Row[Any]) -> StoredRecord:
    return StoredRecord(
        kind=RecordKind(row.system, row.record_type, row.account), record_key=row.record_key,
        business_date=row.business_date, version=row.version, external_key=row.external_key,
        facts=row.facts, payload=row.payload, extracted_at=row.extracted_at, run_id=row.run_id)


_COLUMNS = ("system", "record_type", "account", "record_key", "business_date", "version",
            "external_key", "facts", "payload", "extracted_at", "run_id")
_JSON = ("facts", "payload")
_KEY = ("system", "record_type", "account", "record_key")
# What makes a stored row different: a row that states the same is not written again.
_COMPARED = ("business_date", "version", "external_key", "facts", "payload")


def stage(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The rows in this session's staging table `raw_records_stage`, by COPY (psycopg
    streams them: one round trip, bounded memory). The staging table is a temporary one
    (emptied at commit, gone with the session), not part of the schema Alembic manages."""
    conn.execute(sa.text(
        "CREATE TEMP TABLE IF NOT EXISTS raw_records_stage "
        "(LIKE raw_records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"))
    conn.execute(sa.text("TRUNCATE raw_records_stage"))
    _copy(conn, "raw_records_stage", _text_values(rows))
    conn.execute(sa.text("ANALYZE raw_records_stage"))  # the joins' plan needs its size


def _text_values(rows: Iterable[dict[str, Any]]) -> Iterator[list[Any]]:
    """Insert parameters as COPY rows of `_COLUMNS` in the text format."""
    return ([_json(row[c]) if c in _JSON else row[c] for c in _COLUMNS] for row in rows)


# Binary COPY: the columns' types in `_COLUMNS`' order. A binary field carries no type; a
# jsonb one is jsonb's binary form, the format version (1) and then the JSON text, which
# goes as the bytes `_jsonb` makes (the bytea dumper sends bytes as they are).
_BINARY_TYPES = ("text", "text", "text", "text", "date", "timestamptz", "text", "bytea",
                 "bytea", "timestamptz", "text")
_JSONB_VERSION = b"\x01"
_NO_FACTS = _JSONB_VERSION + b"{}"


def _binary_values(kind: RecordKind, records: Iterable[RawRecord], run_id: str | None,
                   now: datetime) -> Iterator[tuple[Any, ...]]:
    """Records of one key each, extracted `now`, as binary COPY rows of `_COLUMNS`, made
    straight from the records (no insert parameters in between): a first load's rows reach
    PostgreSQL with the least work in this process, and it parses only the JSON."""
    system, record_type, account = kind.system, kind.record_type, kind.account
    for record in records:
        facts = record.facts
        yield (system, record_type, account, record.record_key, record.business_date,
               record.version or now, record.external_key,
               _jsonb(dict(facts)) if facts else _NO_FACTS, _jsonb(record.payload), now,
               run_id)


def _copy(conn: sa.Connection, table: str, values: Iterable[Sequence[Any]],
          binary_types: Sequence[str] | None = None) -> None:
    """COPY rows of `_COLUMNS` into `table`, in the connection's current transaction: in
    the text format, or in the binary one when the columns' `binary_types` are given."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection in use always has one
    cursor = cast("psycopg.Cursor[Any]", dbapi.cursor())  # the same transaction as `conn`
    statement = f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN"
    if binary_types:
        # bytes (the jsonb fields) sent as they are by psycopg's own dumper, not the
        # DB-API `Binary` one that bytea gets by default (a Python call a field).
        cursor.adapters.register_dumper(bytes, BytesBinaryDumper)
    with cursor, cursor.copy(statement + (" (FORMAT BINARY)" if binary_types else "")) as copy:
        if binary_types:
            copy.set_types(binary_types)
        for value in values:
            copy.write_row(value)


def _json_bytes(value: Any) -> bytes:
    """JSON for a jsonb column (decimals and dates as text, like `json.dumps(default=str)`).
    orjson refuses integers beyond 64 bits, which a vendor payload may carry: those take the
    standard library's path, so nothing is lost."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), default=str).encode()


def _json(value: Any) -> str:
    """`_json_bytes` as text, for a text COPY."""
    return _json_bytes(value).decode()


def _jsonb(value: Any) -> bytes:
    """`_json_bytes` in jsonb's binary format, for a binary COPY: the same JSON, which
    PostgreSQL parses into the same jsonb."""
    return _JSONB_VERSION + _json_bytes(value)


def _merge_stage(conn: sa.Connection, newer_only: bool) -> int:
    """Write the staged rows that are new or differ (only over an older or equal version
    when `newer_only`), leaving identical rows untouched: not even locked, so an unchanged
    replay writes no WAL. Returns the rows written."""
    match = " AND ".join(f"t.{c} = s.{c}" for c in _KEY)

    def differs(old: str, new: str) -> str:
        changed = (f"({', '.join(f'{old}.{c}' for c in _COMPARED)}) IS DISTINCT FROM "
                   f"({', '.join(f'{new}.{c}' for c in _COMPARED)})")
        return changed + (f" AND {old}.version <= {new}.version" if newer_only else "")

    guard = differs("t", "s")
    updated = conn.execute(sa.text(
        f"UPDATE raw_records t SET {', '.join(f'{c} = s.{c}' for c in _UPDATED)} "
        f"FROM raw_records_stage s WHERE {match} AND {guard}")).rowcount
    # New keys; one inserted meanwhile by another writer goes through the same guard.
    conflict = differs("raw_records", "excluded")
    inserted = conn.execute(sa.text(
        f"INSERT INTO raw_records ({', '.join(_COLUMNS)}) "
        f"SELECT {', '.join('s.' + c for c in _COLUMNS)} FROM raw_records_stage s "
        f"WHERE NOT EXISTS (SELECT 1 FROM raw_records t WHERE {match}) "
        f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
        f"{', '.join(f'{c} = excluded.{c}' for c in _UPDATED)} WHERE {conflict}")).rowcount
    return int(updated) + int(inserted)


class WindowReplacement:
    """Make the kind's records of business days [start, end) exactly what `add` is given,
    one page at a time, on one connection (one replacement at a time per connection).

    Each `add` merges its page at once, in the connection's current transaction: new and
    changed records are written, a record stored as it is now is left untouched (a replay
    writes nothing), and a key given again on a later page keeps its newest version, as in
    one `replace_window`. The keys read so far are kept in the session's temporary table
    `raw_records_seen` (in PostgreSQL, not in this process), so the caller may commit
    between pages and holds one page whatever the window's length. `finish` deletes the
    window's keys that no page had (orders that vanished): only after the whole window was
    read, so a read that failed halfway deletes nothing and its pages stay stored, and the
    re-run completes the window. A window with nothing stored when the replacement starts
    (`direct`) takes its pages by COPY straight into the table (`_add_new`) until a page
    meets a stored key; if every page went that way, `finish` has nothing to delete.
    """

    def __init__(self, conn: sa.Connection, kind: RecordKind, start: date, end: date,
                 run_id: str | None) -> None:
        self.conn, self.kind, self.start, self.end, self.run_id = conn, kind, start, end, run_id
        self.written = 0
        conn.execute(sa.text(
            "CREATE TEMP TABLE IF NOT EXISTS raw_records_seen (record_key text PRIMARY KEY, "
            "version timestamptz NOT NULL) ON COMMIT PRESERVE ROWS"))
        conn.execute(sa.text("TRUNCATE raw_records_seen"))
        # A window with nothing stored yet (a first load, a backfill's new day) tries each
        # page straight into the table (`_add_new`) until a page meets a stored key.
        self.direct = not conn.execute(sa.select(sa.exists().where(
            of_kind(kind), _in_days(start, end)))).scalar_one()

    def add(self, records: Sequence[RawRecord]) -> int:
        """Merge one page of the window's records; returns the rows it wrote."""
        now = datetime.now(UTC)
        newest = _newest(records, now)
        if not newest:
            return 0
        if self.direct and self._add_new(newest, now):
            self.written += len(newest)
            return len(newest)
        stage(self.conn, _params(self.kind, newest, self.run_id, now))
        # A key an earlier page gave at a newer version keeps that version.
        self.conn.execute(sa.text(
            "DELETE FROM raw_records_stage s USING raw_records_seen k "
            "WHERE k.record_key = s.record_key AND k.version > s.version"))
        self.conn.execute(sa.text(
            "INSERT INTO raw_records_seen (record_key, version) "
            "SELECT record_key, version FROM raw_records_stage "
            "ON CONFLICT (record_key) DO UPDATE SET version = excluded.version"))
        written = _merge_stage(self.conn, newer_only=False)
        self.written += written
        return written

    def _add_new(self, records: Sequence[RawRecord], now: datetime) -> bool:
        """A page of keys the store does not hold yet (one record per key), COPYed straight
        into `raw_records`: no staging table, no comparison, about twice as fast as the
        guarded merge for a first load. The COPY is a binary one made straight from the
        records; a value it cannot send as given (a version without a time zone, which the
        text format leaves to the session's time zone) sends the page as text instead, so
        what is stored is the same either way. Inside a savepoint: a key the store already
        holds (under any day, from an earlier page, or written meanwhile by another writer)
        fails the COPY on the primary key, the savepoint is rolled back, and False is
        returned: this page and the rest take the guarded merge, the window's rows stored
        so far counting as read."""
        try:
            try:
                with self.conn.begin_nested():
                    _copy(self.conn, "raw_records",
                          _binary_values(self.kind, records, self.run_id, now), _BINARY_TYPES)
            except TypeError:
                with self.conn.begin_nested():
                    _copy(self.conn, "raw_records",
                          _text_values(_params(self.kind, records, self.run_id, now)))
        except psycopg.errors.UniqueViolation:
            self.direct = False
            kind = self.kind
            self.conn.execute(sa.text(
                "INSERT INTO raw_records_seen (record_key, version) "
                "SELECT record_key, version FROM raw_records WHERE system = :system "
                "AND record_type = :record_type AND account = :account "
                "AND business_date >= :start AND business_date < :end "
                "ON CONFLICT (record_key) DO NOTHING"),
                {"system": kind.system, "record_type": kind.record_type,
                 "account": kind.account, "start": self.start, "end": self.end})
            return False
        return True

    def finish(self) -> WindowWrite:
        """Delete the window's keys no page had; what the whole replacement did. A window
        that had nothing stored and took every page by COPY has nothing to delete."""
        if self.direct:
            _refresh_statistics(self.conn, self.written)
            return WindowWrite(written=self.written, deleted=0)
        kind = self.kind
        deleted = self.conn.execute(sa.text(
            "DELETE FROM raw_records r WHERE r.system = :system "
            "AND r.record_type = :record_type AND r.account = :account "
            "AND r.business_date >= :start AND r.business_date < :end AND NOT EXISTS "
            "(SELECT 1 FROM raw_records_seen k WHERE k.record_key = r.record_key)"),
            {"system": kind.system, "record_type": kind.record_type, "account": kind.account,
             "start": self.start, "end": self.end}).rowcount
        self.conn.execute(sa.text("TRUNCATE raw_records_seen"))
        _refresh_statistics(self.conn, self.written + int(deleted))
        return WindowWrite(written=self.written, deleted=int(deleted))


# A window that changed more rows than this share of the table (autovacuum's own default
# threshold for analyzing), and at least _ANALYZE_MIN, refreshes the table's statistics.
_ANALYZE_SHARE = 0.1
_ANALYZE_MIN = 1_000


def _refresh_statistics(conn: sa.Connection, changed: int) -> None:
    """Refresh `raw_records`' planner statistics after a window that changed much of it.

    Why: the guarded merge joins a page's staged rows to the table by key. With statistics
    that predate a large load (a first backfill of a new kind, a fresh database), PostgreSQL
    believes the kind has a handful of rows and joins through an index that only narrows to
    the kind (its business day or external key index), reading every row of the kind for
    every staged row: a replay of 200k small rows right after their first load took 0.37 s a
    page of 250, 600 rows/s, instead of the primary key's one probe a row. Autovacuum
    analyzes too, but later; this runs in the caller's transaction (its own new rows count),
    waits at most 100 ms for another session analyzing the table, and otherwise leaves it
    to that one."""
    if changed < _ANALYZE_MIN:
        return
    known = conn.execute(sa.text(
        "SELECT reltuples FROM pg_class WHERE oid = 'raw_records'::regclass")).scalar_one()
    if changed <= _ANALYZE_SHARE * max(float(known), 0.0):
        return
    previous = conn.execute(sa.text("SELECT current_setting('lock_timeout')")).scalar_one()
    try:
        with conn.begin_nested():
            conn.execute(sa.text("SELECT set_config('lock_timeout', '100ms', true)"))
            conn.execute(sa.text("ANALYZE raw_records"))
            conn.execute(sa.text("SELECT set_config('lock_timeout', :previous, true)"),
                         {"previous": previous})
    except sa.exc.OperationalError as error:
        if not isinstance(error.orig, psycopg.errors.LockNotAvailable):
            raise


def replace_window(conn: sa.Connection, kind: RecordKind, start: date, end: date,
                   records: Sequence[RawRecord], run_id: str | None) -> WindowWrite:
    """Make the kind's records of business days [start, end) exactly `records`, in the
    caller's transaction (`WindowReplacement` with one page).

    Keys the window no longer has are deleted; new and changed records are written; a
    record stored as it is now is left untouched (a replay of an unchanged window writes no
    row and almost no WAL). A record stored under another day (an invoice whose TxnDate was
    changed) moves into the window: one row per record, whatever its day.
    """
    replacement = WindowReplacement(conn, kind, start, end, run_id)
    replacement.add(records)
    return replacement.finish()


def upsert_newer(conn: sa.Connection, kind: RecordKind, records: Sequence[RawRecord],
                 run_id: str | None) -> WindowWrite:
    """Store changed records whatever their day; a stored newer version is never replaced
    by an older one, and a record stored as it is now is left untouched."""
    rows = insert_rows(kind, records, run_id)
    if not rows:
        return WindowWrite(written=0, deleted=0)
    stage(conn, rows)
    return WindowWrite(written=_merge_stage(conn, newer_only=True), deleted=0)


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


def window_chunks(engine: sa.Engine, kind: RecordKind, start: date, end: date,
                  size: int = CHUNK) -> Iterator[list[StoredRecord]]:
    """The kind's records of business days [start, end) in chunks of at most `size`: day by
    day, by key within a day (keyset pages on the key). Each chunk is one short query on a
    connection of its own, so the reader holds one chunk and no transaction between chunks,
    whatever the window's length; a record written meanwhile is read if its key comes after
    the chunk being read."""
    key = raw_records.c.record_key
    day = start
    while day < end:
        after: str | None = None
        while True:
            query = sa.select(raw_records).where(of_kind(kind),
                                                 raw_records.c.business_date == day)
            if after is not None:
                query = query.where(sa.tuple_(sa.func.length(key), key) > sa.tuple_(
                    sa.func.length(sa.literal(after, sa.Text)), sa.literal(after, sa.Text)))
            with engine.connect() as conn:
                chunk = [_stored(row) for row in conn.execute(
                    query.order_by(*_by_key()).limit(size))]
            if chunk:
                after = chunk[-1].record_key
                yield chunk
            if len(chunk) < size:
                break
            del chunk
        day += timedelta(days=1)


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
