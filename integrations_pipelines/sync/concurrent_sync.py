"""The shared sync engine with a chunk's writes sent a few at a time.

A destination whose writes are independent requests (QuickBooks: one invoice a request, up
to 10 requests in flight per company) spends most of a sync waiting: on the vendor's
answer, on PostgreSQL's commit of each ledger row, on the shared request budget. Sent one at
a time, a 2,000-order day takes minutes even when the vendor's rate limit would allow far
more. `ConcurrentRecordSync` plans each chunk exactly as `RecordSync` does (mapping, ledger
read, lookup by external key, all up front), then writes the chunk's records `concurrency`
at a time. Each record keeps its own critical section (the advisory lock, the ledger re-read,
the write, the commit), so what is written is what one at a time would write; the rate stays
the shared budget's business (`vendors/budget.py`), which every request still passes.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from itertools import islice
from typing import Any

from integrations_pipelines.sync.engine import RecordSync, SyncOutcome, _Planned
from integrations_pipelines.sync.roles import DraftT, RecordT

__all__ = ["ConcurrentRecordSync", "absorb"]


def absorb(outcome: SyncOutcome, other: SyncOutcome) -> None:
    """Add `other`'s counts (one record's, written on a worker) to `outcome`."""
    for item in fields(outcome):
        setattr(outcome, item.name, getattr(outcome, item.name) + getattr(other, item.name))


class ConcurrentRecordSync(RecordSync[RecordT, DraftT]):
    """`RecordSync` writing each chunk `concurrency` records at a time (1: one after the
    other, exactly `RecordSync`). A writer that sends chunks in batches (`prepare_chunk`)
    is written as `RecordSync` writes it."""

    def __init__(self, *args: Any, concurrency: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.concurrency = max(1, concurrency)

    def run(self, records: Iterable[tuple[RecordT, dict[str, Any]]], *,
            force: Collection[str] = ()) -> SyncOutcome:
        """Sync each (validated record, raw payload) pair, as `RecordSync.run`, with each
        chunk's writes in flight `concurrency` at a time."""
        if self.concurrency == 1 or getattr(self.writer, "prepare_chunk", None) is not None:
            return super().run(records, force=force)
        outcome = SyncOutcome()
        remaining = iter(records)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-write") as pool:
            while chunk := list(islice(remaining, self.chunk_size)):
                planned = self._plan(chunk, force, outcome)
                del chunk  # the plan keeps what needs a write
                found = self.writer.find_by_external_keys(
                    [p.draft.external_key for p in planned])
                self._write_chunk(pool, planned, found, outcome)
                del planned, found
        return outcome

    def _write_chunk(self, pool: ThreadPoolExecutor, planned: list[_Planned[RecordT, DraftT]],
                     found: dict[str, list[dict[str, Any]]], outcome: SyncOutcome) -> None:
        """The chunk's writes on the pool, each counted on its own and added to `outcome`.
        The first write that fails stops the writes not yet started (the run fails, as it
        would one at a time); its error is raised once the writes in flight are done."""
        failed = threading.Event()

        def write(item: _Planned[RecordT, DraftT]) -> SyncOutcome:
            mine = SyncOutcome()
            if failed.is_set():
                return mine
            try:
                self._sync_planned(item, found.get(item.draft.external_key, []), mine)
            except BaseException:
                failed.set()
                raise
            return mine

        futures = [pool.submit(write, item) for item in planned]
        error: BaseException | None = None
        for future in futures:
            try:
                absorb(outcome, future.result())
            except BaseException as exc:  # raised below once every write in flight is done
                error = error or exc
        if error is not None:
            raise error
