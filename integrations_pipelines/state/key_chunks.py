"""Key-hash chunks: a window of records split by a hash of their external key, so that a
window too large to hold (a million orders a day, a backfill's week) can be read and compared
a bounded chunk at a time.

A key's chunk is `md5(key)`'s first 60 bits modulo the number of chunks, computed the same way
by PostgreSQL (`sql_chunk`, in a query's WHERE) and by Python (`key_chunk`), so a record and
its counterparts on the other side and in the ledger land in the same chunk whatever reads
them, provided every side hashes the same key text (a DocNumber `S1001` on the order, the
invoice and the ledger row alike). `window_rows` streams the raw store's records of a window,
optionally those of one chunk, without holding the window or even the chunk's payloads at
once. This module knows no vendor: the caller says what a record's key is as a SQL expression.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from integrations_pipelines.state.raw import RecordKind, StoredRecord
from integrations_pipelines.state.tables import raw_records

__all__ = [
    "CHUNK_KEYS",
    "STREAM_ROWS",
    "chunk_count",
    "key_chunk",
    "key_chunks",
    "sql_chunk",
    "window_count",
    "window_external_keys",
    "window_rows",
]

CHUNK_KEYS = 200_000  # keys per chunk a reconciliation holds at a time
STREAM_ROWS = 1_000  # rows fetched per round trip when streaming a window
_HEX_DIGITS = 15  # 60 bits of the md5: a non-negative bigint in PostgreSQL


def chunk_count(records: int, per_chunk: int = CHUNK_KEYS) -> int:
    """How many chunks a window of `records` records needs so that none holds much more
    than `per_chunk` keys (at least one)."""
    if per_chunk < 1:
        raise ValueError("per_chunk must be >= 1")
    return max(1, math.ceil(records / per_chunk))


_SHIFT = 64 - 4 * _HEX_DIGITS  # the md5's first 8 bytes hold the 60 bits and 4 more


def key_chunk(key: str, chunks: int) -> int:
    """The chunk of one key, as `sql_chunk` computes it in PostgreSQL."""
    return (int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big") >> _SHIFT) % chunks


def key_chunks(keys: Iterable[Any], chunks: int) -> np.ndarray:
    """The chunk of each key (as text), in order; every key is in chunk 0 of one chunk."""
    values = keys.tolist() if hasattr(keys, "tolist") else list(keys)  # no per-key boxing
    if chunks == 1:
        return np.zeros(len(values), dtype=np.int64)
    return np.array([key_chunk(str(k), chunks) for k in values], dtype=np.int64)


def sql_chunk(key: sa.ColumnElement[Any], chunks: int) -> sa.ColumnElement[int]:
    """The chunk of a text key as a SQL expression (PostgreSQL), equal to `key_chunk`."""
    digits = sa.func.substr(sa.func.md5(key), 1, _HEX_DIGITS)
    bits = sa.cast(sa.literal("x", sa.Text) + digits, postgresql.BIT(4 * _HEX_DIGITS))
    return sa.func.mod(sa.cast(bits, sa.BigInteger), chunks)


Kind = RecordKind | tuple[str, str]  # one account's records, or (system, record_type) of all


def _in_window(kind: Kind, start: date, end: date, key: sa.ColumnElement[Any] | None,
               chunk: int, chunks: int) -> sa.ColumnElement[bool]:
    """The rows of the kind (of every account for a `(system, record_type)`) on business days
    [start, end), of one chunk when `chunks` > 1."""
    if isinstance(kind, RecordKind):
        which = sa.and_(raw_records.c.system == kind.system,
                        raw_records.c.record_type == kind.record_type,
                        raw_records.c.account == kind.account)
    else:
        which = sa.and_(raw_records.c.system == kind[0], raw_records.c.record_type == kind[1])
    where = sa.and_(which, raw_records.c.business_date >= start,
                    raw_records.c.business_date < end)
    if chunks > 1:
        if key is None:
            raise ValueError("a chunked read needs the records' key expression")
        where = sa.and_(where, sql_chunk(key, chunks) == chunk)
    return where


def window_count(conn: sa.Connection, kind: Kind, start: date, end: date) -> int:
    """How many records of the kind business days [start, end) hold (what sizes the chunks)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(raw_records).where(
        _in_window(kind, start, end, None, 0, 1))).scalar_one())


def window_external_keys(conn: sa.Connection, kind: Kind, start: date, end: date,
                         key: sa.ColumnElement[Any] | None = None, chunk: int = 0,
                         chunks: int = 1) -> list[str]:
    """The external keys (e.g. DocNumbers) the window's records carry, of one chunk when
    `chunks` > 1, read without their payloads."""
    external = raw_records.c.external_key
    return list(conn.execute(
        sa.select(external).where(_in_window(kind, start, end, key, chunk, chunks),
                                  external.is_not(None), external != "")).scalars())


def window_rows(conn: sa.Connection, kind: Kind, start: date, end: date,
                key: sa.ColumnElement[Any] | None = None, chunk: int = 0,
                chunks: int = 1, *,
                record_keys: Sequence[str] | None = None) -> Iterator[StoredRecord]:
    """The records of business days [start, end), by key (then account), streamed
    `STREAM_ROWS` at a time (a server-side cursor in the connection's transaction): the
    reader holds one batch of payloads, not the window. `kind`: one account's records, or
    `(system, record_type)` for every account's. With `chunks` > 1, only the records whose
    `key` (a SQL expression over `raw_records`) falls in chunk `chunk`; with `record_keys`,
    only the records of those vendor ids (one array parameter, however many)."""
    where = _in_window(kind, start, end, key, chunk, chunks)
    if record_keys is not None:
        where = sa.and_(where, raw_records.c.record_key == sa.any_(
            sa.literal(list(record_keys), postgresql.ARRAY(sa.Text()))))
    query = (sa.select(raw_records).where(where)
             .order_by(sa.func.length(raw_records.c.record_key), raw_records.c.record_key,
                       raw_records.c.account))
    for row in conn.execute(query.execution_options(yield_per=STREAM_ROWS)):
        yield StoredRecord(
            kind=RecordKind(row.system, row.record_type, row.account),
            record_key=row.record_key, business_date=row.business_date, version=row.version,
            external_key=row.external_key, facts=row.facts, payload=row.payload,
            extracted_at=row.extracted_at, run_id=row.run_id)
