"""The frames one window's reconciliation compares, for any pair of systems.

A pair supplies a `WindowSides` (its reader): what the source states about each record of
the window (`source`: key, source_id, version, the compared fields, tags) and what the
destination states about its records (`destination`: key, destination_id, sync_token,
source_id, the compared fields). This module adds what every pair shares and keeps in the
store: the sync ledger's rows, the open dead letters (a record with a dead letter and no
destination record is accounted for, not missing), the destination's failed calls and its
token health as evidence. The judge stays independent: both sides are facts each system
states about itself, never what a mapping computed.

Plain SQLAlchemy and pandas: no vendor and no Dagster import.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any, Protocol

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from integrations_pipelines.reconciliation.diagnosis import AUTH_STATUSES, Evidence
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.state.key_chunks import key_chunks, sql_chunk
from integrations_pipelines.state.tables import (
    dead_letters,
    http_failures,
    oauth_tokens,
    sync_ledger,
)

__all__ = [
    "LEDGER_COLUMNS",
    "SideLabels",
    "WindowChunks",
    "WindowFrames",
    "WindowSides",
    "build_frame",
    "destination_columns",
    "ledger_frame",
    "load_window",
    "source_columns",
    "window_frames",
    "without_settled_duplicates",
]

LEDGER_COLUMNS = ("key", "source_id", "source_version", "destination_id", "status")
CHUNK_ROWS = 50_000


def build_frame(rows: Iterable[tuple[Any, ...]], columns: Sequence[str], *,
                text: Collection[str] = (), dates: Collection[str] = (),
                chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """A reader's rows (tuples in `columns` order) as a frame, built `chunk_rows` at a time.

    The `text` columns get pandas' `str` dtype (Arrow strings with pyarrow, null as NaN) and
    the `dates` columns become UTC timestamps, chunk by chunk: a window of a million records
    never holds a million row tuples or Python strings at once, and the comparison hashes and
    compares its text without a Python object per value.
    """
    def typed(batch: list[tuple[Any, ...]]) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(batch, columns=list(columns)) if batch else (
            pd.DataFrame(columns=list(columns)))
        for name in dates:
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame.astype(dict.fromkeys(text, "str"))

    rows = iter(rows)
    parts = []
    while batch := list(islice(rows, chunk_rows)):
        parts.append(typed(batch))
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=True) if parts else typed([])


def source_columns(fields: Sequence[FieldSpec]) -> tuple[str, ...]:
    """The columns of a source frame for these compared fields."""
    return ("key", "source_id", "version", *(f.name for f in fields), "tags")


def destination_columns(fields: Sequence[FieldSpec]) -> tuple[str, ...]:
    """The columns of a destination frame for these compared fields."""
    return ("key", "destination_id", "sync_token", "source_id", *(f.name for f in fields))


@dataclass(frozen=True)
class SideLabels:
    """How reports name the two sides: the systems and what one record of each is called."""

    source: str
    source_record: str
    destination: str
    destination_record: str


class WindowSides(Protocol):
    """A pair's reader for one window: each side's records as the system states them."""

    fields: tuple[FieldSpec, ...]
    labels: SideLabels
    destination_system: str  # the vendor name on http_failures and oauth_tokens

    def source(self) -> pd.DataFrame:
        """The source's records of the window (`source_columns(fields)`)."""
        ...

    def destination_keys(self) -> list[str]:
        """The external keys the destination's records carry (for the ledger lookup)."""
        ...

    def destination(self, ledger: pd.DataFrame) -> pd.DataFrame:
        """The destination's records (`destination_columns(fields)`), given the ledger."""
        ...

    def letter_key(self, payload: Any) -> str | None:
        """The external key of a dead letter whose record is not in the source frame."""
        ...


@dataclass(frozen=True)
class WindowFrames:
    """Everything one window's reconciliation reads, as plain frames.

    `source` excludes the accounted-for keys, which are in `accounted` (the same columns
    plus the dead letter's `reason_code`); `source_count` counts every source record of the
    window, accounted ones included.
    """

    start: date
    end: date
    source: pd.DataFrame
    destination: pd.DataFrame
    ledger: pd.DataFrame
    accounted: pd.DataFrame
    evidence: Evidence
    source_count: int
    fields: tuple[FieldSpec, ...]
    labels: SideLabels


@dataclass(frozen=True)
class WindowChunks:
    """A window read and compared one key-hash chunk at a time, for windows too large to hold
    (`state.key_chunks`): `read(i)` returns the `WindowFrames` of chunk i of `chunks`, every
    key of the chunk with all its records on every side, and `reconcile_window` reads them in
    turn, keeping only each chunk's discrepancies. `destination_by_id` (optional) returns
    the window's destination records (`destination_columns`) with the given ids, whatever
    their chunk: how a record renumbered into another chunk is still named."""

    start: date
    end: date
    chunks: int
    read: Callable[[int], WindowFrames]
    fields: tuple[FieldSpec, ...]
    labels: SideLabels
    destination_by_id: Callable[[list[str]], pd.DataFrame] | None = None


def without_settled_duplicates(frame: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Drop voided copies of a key that keeps another record, unless the copy is the
    ledger's own record (a cancelled source record's voided copy is the record, not a copy);
    `frame` needs `key`, `destination_id` and a boolean `voided`."""
    if not len(frame):
        return frame
    ledger_ids = set(ledger["destination_id"].astype(str)) if len(ledger) else set()
    records = frame.groupby("key", sort=False)["key"].transform("size")
    copy = frame["voided"] & ~frame["destination_id"].isin(ledger_ids) & (records > 1)
    kept = (~copy).groupby(frame["key"], sort=False).transform("sum")
    settled = copy & (kept > 0)
    return frame.loc[~settled].reset_index(drop=True)


def ledger_frame(rows: Iterable[Any]) -> pd.DataFrame:
    """Ledger rows keyed by external key (the last written row wins if a key repeats);
    records settled without a destination record (skipped by policy) are left out."""
    frame = build_frame(
        ((r.destination_key, r.source_id, r.source_version, str(r.destination_id), r.status,
          r.synced_at) for r in rows if r.destination_key),
        [*LEDGER_COLUMNS, "synced_at"],
        text=("key", "source_id", "destination_id", "status"), dates=("source_version",),
    )
    frame = frame.sort_values("synced_at", kind="stable").drop_duplicates("key", keep="last")
    return frame.drop(columns="synced_at").reset_index(drop=True)


def load_window(conn: sa.Connection, integration: str, sides: WindowSides, start: date,
                end: date, account: str | None, run_ids: Collection[str] = (), *,
                chunk: int = 0, chunks: int = 1) -> WindowFrames:
    """The frames of business days [start, end) of `integration`, or of its key-hash chunk
    `chunk` of `chunks` (`sides` then states that chunk's records; the ledger's rows and the
    dead letters are those of the chunk's keys).

    `account`: the destination account whose token health is evidence (None: none);
    `run_ids`: the runs that worked on the window, whose failed destination calls are.
    """
    source = sides.source()
    in_window = sa.or_(
        sa.and_(sync_ledger.c.business_date >= start, sync_ledger.c.business_date < end),
        sync_ledger.c.destination_key == sa.any_(_text_array(sides.destination_keys())),
    )
    if chunks > 1:
        in_window = sa.and_(in_window, sql_chunk(sync_ledger.c.destination_key, chunks) == chunk)
    ledger = ledger_frame(conn.execute(
        sa.select(sync_ledger).where(sync_ledger.c.integration == integration, in_window)))
    destination = sides.destination(ledger)
    letters = _open_letters(conn, integration, start, end, source, sides)
    if chunks > 1:
        letters = letters.loc[key_chunks(letters["key"], chunks) == chunk]
    failures = _failures(conn, sides.destination_system, account, run_ids)
    return window_frames(start, end, source, destination, ledger, letters, failures,
                         sides.fields, sides.labels)


def window_frames(start: date, end: date, source: pd.DataFrame, destination: pd.DataFrame,
                  ledger: pd.DataFrame, letters: pd.DataFrame, failures: pd.DataFrame,
                  fields: tuple[FieldSpec, ...], labels: SideLabels) -> WindowFrames:
    """The window's frames from what was read: a source record with an open dead letter
    (`letters`: key, reason_code) and no destination record is accounted for, not compared;
    the letters, the destination's failed calls (`failures`: status) and the source's tags
    are the evidence. What `load_window` returns, and what the benchmark measures."""
    unsent = (source["key"].isin(letters["key"]) if len(letters)
              else pd.Series(False, index=source.index))
    if unsent.any():  # of the few lettered keys, those without a destination record
        sent = destination["key"].isin(source.loc[unsent, "key"])
        unsent &= ~source["key"].isin(destination.loc[sent, "key"])
    accounted = source.loc[unsent].merge(
        letters[["key", "reason_code"]].drop_duplicates("key"), on="key", how="left")
    evidence = Evidence(
        dead_letters=letters[["key", "reason_code"]],
        http_failures=failures,
        tags=source[["key", "tags"]],
    )
    if unsent.any():
        source = source.loc[~unsent].reset_index(drop=True)
    return WindowFrames(
        start=start, end=end, source=source,
        destination=destination, ledger=ledger, accounted=accounted.reset_index(drop=True),
        evidence=evidence, source_count=len(source) + int(unsent.sum()), fields=fields,
        labels=labels,
    )


def _text_array(values: list[str]) -> sa.BindParameter[list[str]]:
    """A list of text as one array parameter (`= ANY(...)`): a window's keys can be more than
    the 65,535 parameters PostgreSQL binds in one statement, as an IN list would need."""
    return sa.literal(values, postgresql.ARRAY(sa.Text()))


def _open_letters(conn: sa.Connection, integration: str, start: date, end: date,
                  source: pd.DataFrame, sides: WindowSides) -> pd.DataFrame:
    """Open dead letters of the window's source records, keyed by external key."""
    source_ids = source["source_id"].tolist()
    rows = conn.execute(
        sa.select(dead_letters.c.source_id, dead_letters.c.reason_code, dead_letters.c.payload)
        .where(dead_letters.c.integration == integration, dead_letters.c.resolved_at.is_(None),
               sa.or_(dead_letters.c.source_id == sa.any_(_text_array(source_ids)),
                      sa.and_(dead_letters.c.business_date >= start,
                              dead_letters.c.business_date < end)))
        .order_by(dead_letters.c.id)
    ).all()
    keys = dict(zip(source["source_id"], source["key"], strict=True))
    letters = pd.DataFrame(
        [{"key": keys.get(r.source_id) or sides.letter_key(r.payload),
          "source_id": r.source_id, "reason_code": r.reason_code} for r in rows],
        columns=["key", "source_id", "reason_code"],
    )
    return letters.dropna(subset=["key"]).astype({"key": object})


def _failures(conn: sa.Connection, vendor: str, account: str | None,
              run_ids: Collection[str]) -> pd.DataFrame:
    """Failed calls to the destination in the window's runs, plus one authentication
    failure when the account's stored token is revoked or its refreshes are failing."""
    statuses: list[int | None] = []
    if run_ids:
        statuses = list(conn.execute(
            sa.select(http_failures.c.status).where(
                http_failures.c.vendor == vendor, http_failures.c.run_id.in_(list(run_ids)))
        ).scalars())
    if account is not None:
        token = conn.execute(
            sa.select(oauth_tokens.c.revoked, oauth_tokens.c.consecutive_failures)
            .where(oauth_tokens.c.connection == f"{vendor}:{account}")
        ).first()
        if token is not None and (token.revoked or token.consecutive_failures > 0):
            statuses.append(AUTH_STATUSES[0])
    return pd.DataFrame({"status": pd.array(statuses, dtype="Int64")})
