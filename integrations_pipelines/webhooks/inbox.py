"""The durable webhook inbox: a delivery is acknowledged only once it is committed.

Deliveries arriving at the same moment are committed together (group commit): each request
hands its row to `GroupCommitter` and waits; one writer thread takes whatever has queued
(up to `max_batch` rows, or what arrived within `max_wait` seconds of the first), inserts it
in one transaction and wakes every waiting request. One fsync then serves many deliveries,
so the receiver stays fast without acknowledging anything that is not on disk. A delivery
id already in the inbox (a redelivery) inserts nothing and is answered as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.tables import webhook_inbox

__all__ = ["Delivery", "GroupCommitter", "insert_deliveries"]

log = logging.getLogger(__name__)
PENDING, PROCESSED, IGNORED, MALFORMED = "pending", "processed", "ignored", "malformed"


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as the inbox keeps it."""

    vendor: str
    connection: str
    topic: str
    delivery_id: str
    received_at: datetime
    body: str
    status: str
    event_id: str | None = None
    shop: str | None = None
    triggered_at: datetime | None = None
    record_id: str | None = None  # what the delivery is about (an order id), for the dead-man
    record_version: datetime | None = None

    def row(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


# Built once: compiling a multi-row VALUES statement per batch cost three times the insert
# itself (benchmarks/webhook_receiver_benchmark.py); executemany with this statement uses
# SQLAlchemy's insertmanyvalues, RETURNING included.
INSERT = (pg_insert(webhook_inbox)
          .on_conflict_do_nothing(constraint="uq_webhook_delivery")
          .returning(webhook_inbox.c.vendor, webhook_inbox.c.delivery_id))


def insert_deliveries(engine: sa.Engine, deliveries: Sequence[Delivery]) -> set[str]:
    """Insert in one transaction; returns the delivery ids that were new."""
    rows, seen = [], set()
    for delivery in deliveries:
        key = (delivery.vendor, delivery.delivery_id)
        if key not in seen:
            seen.add(key)
            rows.append(delivery.row())
    with engine.begin() as conn:
        return {f"{r.vendor}:{r.delivery_id}" for r in conn.execute(INSERT, rows)}


class GroupCommitter:
    """Batches concurrent deliveries into shared commits; `commit` returns once durable."""

    def __init__(self, engine: sa.Engine, *, max_batch: int = 500,
                 max_wait: float = 0.002) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.batches = 0  # how many transactions served how many deliveries: the group
        self.committed = 0
        self._queue: asyncio.Queue[tuple[Delivery, asyncio.Future[bool]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def commit(self, delivery: Delivery) -> bool:
        """Wait until the delivery is committed; True if new, False if a redelivery.
        Raises if the inbox could not be written (the vendor will deliver again)."""
        if self._worker is None or self._worker.done():  # started by the first delivery
            await self.start()
        assert self._queue is not None
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((delivery, done))
        return await done

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    batch.append(self._queue.get_nowait() if timeout <= 0 else
                                 await asyncio.wait_for(self._queue.get(), timeout))
                except (asyncio.QueueEmpty, TimeoutError):
                    break
            try:
                new = await asyncio.to_thread(insert_deliveries, self.engine,
                                              [d for d, _ in batch])
            except Exception as exc:  # every waiting request answers 503
                log.exception("webhook inbox commit failed for %d deliveries", len(batch))
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.batches += 1
            self.committed += len(new)
            claimed: set[str] = set()
            for delivery, done in batch:
                key = f"{delivery.vendor}:{delivery.delivery_id}"
                fresh = key in new and key not in claimed
                claimed.add(key)
                if not done.done():
                    done.set_result(fresh)
