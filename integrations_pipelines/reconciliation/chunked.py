"""One window's reconciliation assembled from its key-hash chunks.

A window too large to hold (`frames.WindowChunks`) is compared a chunk at a time: every key
and its records on every side fall in the same chunk, so each chunk is a complete small
window to the engine. Of each chunk only what the report can show is kept: its discrepant
keys (the table and its field differences) and the source, destination and ledger rows they
point at; matched, equal keys are only counted. The kept parts are then put together as if
the window had been compared whole: counts add up, the table is ordered by class then key,
row positions point into the kept rows, and duplicated keys' records stay grouped in table
order. Memory follows one chunk plus the discrepancies, not the window.

No SQL and no vendor: the pair's reader supplies the chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from integrations_pipelines.reconciliation.diagnosis import Evidence, keys_among
from integrations_pipelines.reconciliation.engine import reconcile
from integrations_pipelines.reconciliation.frames import WindowChunks, WindowFrames
from integrations_pipelines.reconciliation.result import NO_ROW, Outcome, ReconciliationResult
from integrations_pipelines.state.key_chunks import key_chunks

__all__ = ["ChunkPart", "merge_parts", "reconcile_chunks", "reconcile_part"]


@dataclass(frozen=True)
class ChunkPart:
    """What one chunk contributes: its result cut down to its discrepancies (`result.source`,
    `.destination` and `.ledger` are the rows the table points at), its accounted-for records,
    its evidence (the tags of its discrepant keys only) and its count of source records."""

    result: ReconciliationResult
    accounted: pd.DataFrame
    evidence: Evidence
    source_count: int


def reconcile_part(frames: WindowFrames, money_tolerance: int = 0) -> ChunkPart:
    """Compare one chunk and keep what the window's report needs of it."""
    result = reconcile(frames.source, frames.destination, frames.ledger, frames.fields,
                       money_tolerance=money_tolerance)
    evidence, tags = frames.evidence, frames.evidence.tags
    if tags is not None:
        tags = tags.loc[keys_among(tags["key"], result.table["key"])].reset_index(drop=True)
    return ChunkPart(result=_kept(result), accounted=frames.accounted,
                     evidence=Evidence(dead_letters=evidence.dead_letters,
                                       http_failures=evidence.http_failures, tags=tags),
                     source_count=frames.source_count)


def reconcile_chunks(window: WindowChunks,
                     money_tolerance: int = 0) -> tuple[WindowFrames, ReconciliationResult]:
    """Read and compare the window's chunks one after the other (each chunk's frames are
    released before the next is read); the kept rows as the window's frames, and the result."""
    parts = []
    for chunk in range(window.chunks):  # no name holds a chunk's frames while the next is read
        part = reconcile_part(window.read(chunk), money_tolerance)
        table = part.result.table
        _check_chunk(table.loc[table["class"].isin(_UNPAIRED), "key"], chunk, window.chunks)
        parts.append(part)
    return merge_parts(window, parts)


# the classes of a record compared without its counterpart
_UNPAIRED = (str(Outcome.MISSING), str(Outcome.EXTRA))


def _check_chunk(keys: pd.Series, chunk: int, chunks: int) -> None:
    """Refuse a chunk whose unpaired keys hash into another chunk: the reader's SQL key and
    the frame's key disagree. A record read into the wrong chunk is compared without its
    counterparts, so its key shows as missing or extra where it was read (an order missing
    here, its invoice extra there; a duplicated key's stray invoice extra), and checking
    those few keys catches every such error without hashing every key twice. Not caught here:
    a ledger row alone read into the wrong chunk, which can only turn a stale key into a
    wrong one (the readers' tests compare their SQL chunks with `key_chunk`)."""
    wrong = key_chunks(keys, chunks) != chunk
    if wrong.any():
        raise ValueError(f"key {keys.iloc[int(wrong.argmax())]!r} was read into chunk {chunk} "
                         f"of {chunks} but hashes into another: the reader's SQL key and its "
                         "frames' key differ")


def _kept(result: ReconciliationResult) -> ReconciliationResult:
    """The result with only the rows its table points at, positions renumbered."""
    table = result.table
    src_rows, dst_rows, led_rows = (table[c].to_numpy(dtype=np.int64) for c in
                                    ("source_row", "destination_row", "ledger_row"))
    keep_src = np.unique(src_rows[src_rows != NO_ROW])
    keep_dst = np.unique(np.concatenate([dst_rows[dst_rows != NO_ROW], result.duplicate_rows]))
    keep_led = np.unique(led_rows[led_rows != NO_ROW])
    table = table.assign(source_row=_renumbered(src_rows, keep_src),
                         destination_row=_renumbered(dst_rows, keep_dst),
                         ledger_row=_renumbered(led_rows, keep_led))
    return ReconciliationResult(
        fields=result.fields, source_records=result.source_records,
        destination_records=result.destination_records, ok_count=result.ok_count,
        table=table, field_diffs=result.field_diffs,
        duplicate_rows=_renumbered(result.duplicate_rows, keep_dst),
        source=_rows(result.source, keep_src), destination=_rows(result.destination, keep_dst),
        ledger=_rows(result.ledger, keep_led))


def _renumbered(rows: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Positions into a frame as positions into its kept rows (`kept` sorted; -1 stays)."""
    rows = np.asarray(rows, dtype=np.int64)
    return np.where(rows == NO_ROW, NO_ROW, np.searchsorted(kept, rows)).astype(np.int64)


def _rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    return frame.iloc[rows].reset_index(drop=True)


def merge_parts(window: WindowChunks,
                parts: Iterable[ChunkPart]) -> tuple[WindowFrames, ReconciliationResult]:
    """The chunks' parts as one window: its frames (the kept rows) and its result."""
    parts = list(parts)
    if not parts:
        raise ValueError("a window has at least one chunk")
    results = [p.result for p in parts]
    tables, diffs, duplicates = [], [], []
    src_at = dst_at = led_at = 0
    for r in results:
        shifts = (("source_row", src_at), ("destination_row", dst_at), ("ledger_row", led_at))
        tables.append(r.table.assign(**{
            column: _shifted(r.table[column].to_numpy(dtype=np.int64), at)
            for column, at in shifts}))
        diffs.append(r.field_diffs)
        duplicates.append(r.duplicate_rows + dst_at)
        src_at, dst_at, led_at = (src_at + len(r.source), dst_at + len(r.destination),
                                  led_at + len(r.ledger))
    table = _concat(tables)
    order = _class_then_key(table)
    table = table.take(order).reset_index(drop=True)
    field_diffs = np.concatenate(diffs)[order]
    source, destination, ledger = (_concat([getattr(r, side) for r in results])
                                   for side in ("source", "destination", "ledger"))
    result = ReconciliationResult(
        fields=results[0].fields,
        source_records=sum(r.source_records for r in results),
        destination_records=sum(r.destination_records for r in results),
        ok_count=sum(r.ok_count for r in results),
        table=table, field_diffs=field_diffs,
        duplicate_rows=_in_table_order(np.concatenate(duplicates), table, destination),
        source=source, destination=destination, ledger=ledger)
    letters = [p.evidence.dead_letters for p in parts if p.evidence.dead_letters is not None]
    tags = [p.evidence.tags for p in parts if p.evidence.tags is not None]
    frames = WindowFrames(
        start=window.start, end=window.end, source=source, destination=destination,
        ledger=ledger, accounted=_concat([p.accounted for p in parts]),
        evidence=Evidence(dead_letters=_concat(letters) if letters else None,
                          http_failures=parts[0].evidence.http_failures,
                          tags=_concat(tags) if tags else None),
        source_count=sum(p.source_count for p in parts), fields=window.fields,
        labels=window.labels)
    return frames, result


def _shifted(rows: np.ndarray, at: int) -> np.ndarray:
    return np.where(rows == NO_ROW, NO_ROW, rows + at).astype(np.int64)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after the other (empty ones left out, unless all are)."""
    non_empty = [f for f in frames if len(f)] or frames[:1]
    if len(non_empty) == 1:
        return non_empty[0].reset_index(drop=True)
    return pd.concat(non_empty, ignore_index=True)


def _class_then_key(table: pd.DataFrame) -> np.ndarray:
    """The order of the merged table: by class (in `DISCREPANCIES` order), then by key, as
    the engine orders one window's table; keys of mixed types that do not order keep the
    chunks' order within their class."""
    codes = table["class"].cat.codes.to_numpy()
    try:
        ranked = table[["key"]].assign(code=codes).sort_values(["code", "key"], kind="stable")
    except TypeError:
        return np.argsort(codes, kind="stable")
    return ranked.index.to_numpy()


def _in_table_order(rows: np.ndarray, table: pd.DataFrame,
                    destination: pd.DataFrame) -> np.ndarray:
    """Every record of a duplicated key, grouped by key in the table's order (within a key,
    by position, as each chunk gave them)."""
    if not len(rows):
        return rows.astype(np.int64)
    duplicated = table.loc[table["class"] == "duplicate", "key"]
    rank = pd.Index(duplicated).get_indexer(destination["key"].iloc[rows])
    return rows[np.argsort(rank, kind="stable")].astype(np.int64)
