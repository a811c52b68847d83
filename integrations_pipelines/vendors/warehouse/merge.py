"""Bulk, idempotent loads into a warehouse table: COPY into a staging table, then MERGE.

A source -> warehouse load moves whole days of records whose values rarely change after
the day. Row-by-row upserts (the `TableWriter` of `writer.py`) cost a round trip per record;
here a batch is streamed into a temporary staging table with binary COPY (psycopg, one
round trip, values in PostgreSQL's own format) and merged with one `MERGE` whose
`WHEN MATCHED AND (row) IS DISTINCT FROM (staged row)` guard leaves an identical row
untouched: a re-load of an unchanged day writes no row, a changed record updates its row in
place, a new one is inserted. `merge_action()` (PostgreSQL 17+) counts what happened, in
the server. Columns in `uncompared` (the load time, the version we read)
are written with a change but are never a reason to write.

When none of a batch's keys is in the table yet (a window's first load: checked with one
index probe), the batch is COPYed straight into the table, with no staging table and no
MERGE: the primary key still keeps one row per record, so a writer that inserted one of
those keys meanwhile (the change feed) makes the COPY fail on the key, and the batch is
merged through the staging table instead. Measured on 200,000 balance transactions, the
direct COPY roughly halves a first load's time; a re-load takes the MERGE path and writes
nothing.

A batch the table refuses (a value out of a column's range) is not the run's failure: the
batch is staged again row by row under savepoints, each refused row comes back with the
database's reason (the caller dead-letters it) and the others merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, cast

import psycopg
import sqlalchemy as sa

__all__ = ["MergeLoader", "Merged"]

TEXT, BPCHAR = 25, 1042  # type oids


def _refusal(exc: Exception) -> bool:
    """A value the table cannot hold: the server refused it (COPY raises psycopg's error,
    SQL SQLAlchemy's), or binary COPY could not encode it (an integer beyond 64 bits)."""
    error = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return isinstance(error, psycopg.errors.DataError | psycopg.errors.IntegrityError
                      | OverflowError)


def _why(exc: Exception) -> str:
    if isinstance(exc, OverflowError):
        return f"a value is out of range for its column ({exc})"
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Merged:
    """What one or more merges did: rows inserted, updated, left as they were, refused."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def add(self, other: Merged) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.refused += other.refused


class MergeLoader:
    """Loads rows (dicts of the table's columns) into one table by its primary key."""

    def __init__(self, table: sa.Table, uncompared: Sequence[str] = ("loaded_at",),
                 direct: bool = True) -> None:
        """`direct=False` stages every batch (the benchmark's before, in the same run)."""
        self.table = table
        self.direct = direct
        self.columns = [c.name for c in table.columns]
        self.keys = [c.name for c in table.primary_key.columns]
        self.compared = [c for c in self.columns if c not in self.keys and c not in uncompared]
        self.stage = f"stage_{table.name}"
        self._oids: list[int] | None = None

    @property
    def target(self) -> str:
        return f"{_q(self.table.schema)}.{_q(self.table.name)}" if self.table.schema \
            else _q(self.table.name)

    def _merge_sql(self) -> str:
        on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in self.keys)
        old = ", ".join(f"t.{_q(c)}" for c in self.compared)
        new = ", ".join(f"s.{_q(c)}" for c in self.compared)
        settable = [c for c in self.columns if c not in self.keys]
        return (
            f"MERGE INTO {self.target} AS t USING {self.stage} AS s ON {on} "
            f"WHEN MATCHED AND ({old}) IS DISTINCT FROM ({new}) THEN UPDATE SET "
            + ", ".join(f"{_q(c)} = s.{_q(c)}" for c in settable)
            + f" WHEN NOT MATCHED THEN INSERT ({', '.join(_q(c) for c in self.columns)}) "
            f"VALUES ({', '.join('s.' + _q(c) for c in self.columns)}) "
            "RETURNING merge_action()")

    def _stage(self, conn: sa.Connection) -> None:
        conn.execute(sa.text(f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} (LIKE {self.target} "
                             "INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"))
        conn.execute(sa.text(f"TRUNCATE {self.stage}"))

    def _types(self, conn: sa.Connection) -> list[int]:
        """The table's column type oids, in `columns` order (binary COPY needs them: it
        sends values in PostgreSQL's own format, no text to parse)."""
        if self._oids is None:
            found: dict[str, int] = dict(conn.execute(sa.text(
                "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = "
                "CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"),
                {"t": self.target}).tuples().all())
            # char(n) takes text's binary format (bpcharrecv reads it), which psycopg dumps.
            self._oids = [TEXT if int(found[c]) == BPCHAR else int(found[c])
                          for c in self.columns]
        return self._oids

    def _copy(self, conn: sa.Connection, rows: Iterable[dict[str, Any]],
              into: str | None = None) -> int:
        """Binary COPY of `rows` into the staging table (or `into`); returns the count."""
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None  # a connection in use always has one
        types = self._types(conn)
        cursor = cast("psycopg.Cursor[Any]", dbapi.cursor())
        names = ", ".join(_q(c) for c in self.columns)
        columns = self.columns
        # A row's values in column order, picked in C (one column: a 1-tuple).
        values = itemgetter(*columns) if len(columns) > 1 else (
            lambda row: (row[columns[0]],))
        n = 0
        with cursor, cursor.copy(
                f"COPY {into or self.stage} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                try:
                    copy.write_row(values(row))
                except KeyError:  # a row without some column: NULL there
                    copy.write_row([row.get(c) for c in columns])
                n += 1
        return n

    def _merge(self, conn: sa.Connection, staged: int) -> Merged:
        """One MERGE; its actions are counted in the server (no row comes back)."""
        counted: dict[str, int] = dict(conn.execute(sa.text(
            f"WITH merged AS ({self._merge_sql()} AS action) "
            "SELECT action, count(*) FROM merged GROUP BY action")).tuples().all())
        inserted, updated = int(counted.get("INSERT", 0)), int(counted.get("UPDATE", 0))
        return Merged(inserted, updated, staged - inserted - updated)

    def _none_held(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> bool:
        """No row of the table has any of the batch's keys (one index probe); only for a
        single-column key."""
        if len(self.keys) != 1:
            return False
        key = self.keys[0]
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None  # a connection in use always has one
        with cast("psycopg.Cursor[Any]", dbapi.cursor()) as cursor:
            # Binary parameters: the keys go as an array in PostgreSQL's own format (the
            # text format quotes each element, a fifth of a first load's time).
            found = cursor.execute(
                f"SELECT NOT EXISTS (SELECT 1 FROM {self.target} WHERE {_q(key)} = ANY(%b))",
                [[row.get(key) for row in rows]]).fetchone()
        return bool(found and found[0])

    def _insert_directly(self, conn: sa.Connection,
                         rows: Sequence[dict[str, Any]]) -> Merged | None:
        """COPY a batch none of whose keys the table holds straight into the table; None
        when a key arrived meanwhile or the table refused a value (the caller merges)."""
        try:
            with conn.begin_nested():
                return Merged(inserted=self._copy(conn, rows, into=self.target))
        except (sa.exc.DBAPIError, psycopg.Error, OverflowError) as exc:
            error = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
            if isinstance(error, psycopg.errors.UniqueViolation) or _refusal(exc):
                return None
            raise

    def load(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> Merged:
        """Merge `rows` in the caller's transaction (the caller commits). Refused rows come
        back in `refused` with the database's reason; the others are merged."""
        if not rows:
            return Merged()
        if self.direct and self._none_held(conn, rows):
            inserted = self._insert_directly(conn, rows)
            if inserted is not None:
                return inserted
        self._stage(conn)
        try:
            with conn.begin_nested():
                staged = self._copy(conn, rows)
                conn.execute(sa.text(f"ANALYZE {self.stage}"))  # the join's plan needs its size
                return self._merge(conn, staged)
        except (sa.exc.DBAPIError, psycopg.Error, OverflowError) as exc:
            if not _refusal(exc):
                raise
        return self._one_by_one(conn, rows)

    def _one_by_one(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> Merged:
        """Stage each row under a savepoint: the refused ones are set aside with why."""
        self._stage(conn)
        refused: list[tuple[dict[str, Any], str]] = []
        staged = 0
        for row in rows:
            try:
                with conn.begin_nested():
                    self._copy(conn, [row])
                staged += 1
            except (sa.exc.DBAPIError, psycopg.Error, OverflowError) as exc:
                if not _refusal(exc):
                    raise
                refused.append((row, f"{self.table.fullname} refused the row: {_why(exc)}"))
        merged = self._merge(conn, staged)
        merged.refused = refused
        return merged
