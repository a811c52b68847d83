"""The shared sync engine: source records into one destination, idempotently, committed
one record at a time, knowing no vendor.

For each record version: map it (or dead-letter it, or settle it as skipped by the catalog's
policy); skip it when the ledger already holds the same desired state or a newer source
version; otherwise hand it to the destination's writer, which finds the destination record
(ledger, else lookup by the external key, so a crash between the destination's create and
our commit is recovered), creates, updates or voids it with an idempotency key derived from
the desired state; then commit the ledger row. Records are taken a chunk at a time
(`chunk_size`, a page of the source): mapping, ledger reads and external-key lookups are
done for the chunk up front, then its writes, so a sync holds one chunk of records however
long its window; each write commits on its own, so a crash loses at most one commit, and
that one is recovered by the lookup on the re-run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, Generic

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.sync import dead_letters, ledger
from integrations_pipelines.sync.ledger import LedgerEntry
from integrations_pipelines.sync.roles import (
    DestinationConflict,
    DestinationWriter,
    DraftT,
    MappingRejected,
    MappingSkipped,
    RecordT,
)

__all__ = ["CHUNK_SIZE", "SKIPPED", "RecordSync", "SyncOutcome"]

SKIPPED = "skipped"  # ledger status of a record settled by policy
CHUNK_SIZE = 250  # records planned and written together: one page of the source


@dataclass
class SyncOutcome:
    """What one sync did, by result; `dead_letter_reasons` counts by reason code."""

    created: int = 0
    updated: int = 0
    voided: int = 0
    unchanged: int = 0
    stale_skipped: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    conflicts: int = 0
    adopted: int = 0
    duplicates_seen: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        """Every record the run settled one way or another."""
        return (self.created + self.updated + self.voided + self.unchanged
                + self.stale_skipped + self.dead_lettered + self.skipped)

    def count(self, action: str) -> None:
        """Count one write by its action (`created`, `updated`, `voided`, `unchanged`)."""
        setattr(self, action, getattr(self, action) + 1)


@dataclass(frozen=True)
class _Planned(Generic[RecordT, DraftT]):
    record: RecordT
    raw: dict[str, Any]
    draft: DraftT
    entry: LedgerEntry | None


class RecordSync(Generic[RecordT, DraftT]):
    """Syncs the records of one integration into one destination account through the
    pair's mapping (`mapper`), its business-day rule (`day_of`) and the destination's
    `writer`, `chunk_size` records at a time."""

    def __init__(self, engine: sa.Engine, integration: Integration,
                 writer: DestinationWriter[DraftT],
                 mapper: Callable[[RecordT, Integration],
                                  DraftT | MappingRejected | MappingSkipped],
                 day_of: Callable[[RecordT, str], date], chunk_size: int = CHUNK_SIZE) -> None:
        self.engine = engine
        self.integration = integration
        self.writer = writer
        self.mapper = mapper
        self.day_of = day_of
        self.chunk_size = chunk_size

    def _day(self, record: RecordT) -> date:
        return self.day_of(record, self.integration.timezone)

    def run(self, records: Iterable[tuple[RecordT, dict[str, Any]]], *,
            force: Collection[str] = ()) -> SyncOutcome:
        """Sync each (validated record, raw payload) pair; returns the counts.

        `records` is consumed `chunk_size` at a time, and each chunk is planned before it
        is written: every record is mapped, the ledger is read in one query and the
        destination records of those that need a write are looked up by external key in a
        few batched requests, so a record costs about one destination request; the next
        chunk is taken only when this one is written, so a lazy `records` is held one chunk
        at a time. `force` names source ids whose destination is known to be wrong
        (reconciliation's repair): they are rewritten even when the ledger says the last
        write is current.
        """
        outcome = SyncOutcome()
        remaining = iter(records)
        while chunk := list(islice(remaining, self.chunk_size)):
            planned = self._plan(chunk, force, outcome)
            del chunk  # the plan keeps what needs a write
            found = self.writer.find_by_external_keys([p.draft.external_key for p in planned])
            self._prepare(planned, found)
            for item in planned:
                self._sync_planned(item, found.get(item.draft.external_key, []), outcome)
            del planned, found
        return outcome

    def _prepare(self, planned: list[_Planned[RecordT, DraftT]],
                 found: dict[str, list[dict[str, Any]]]) -> None:
        """Let a destination that writes in batches (`prepare_chunk`: Xero's 50 invoices a
        request) send the chunk's new records at once; each record's `write` then settles
        its own answer inside its critical section, so one refused record is its own dead
        letter. A writer without the hook writes one record at a time."""
        prepare = getattr(self.writer, "prepare_chunk", None)
        if prepare is None or not planned:
            return
        name = self.integration.name
        with self.engine.connect() as conn:
            prepare([(p.draft, p.entry, found.get(p.draft.external_key, []),
                      dead_letters.refusals(conn, name, p.draft.source_id)) for p in planned])

    def _plan(self, records: Iterable[tuple[RecordT, dict[str, Any]]],
              force: Collection[str], outcome: SyncOutcome) -> list[_Planned[RecordT, DraftT]]:
        """Map a chunk, settle what needs no write, and return what does."""
        drafts = [(record, raw, self.mapper(record, self.integration))
                  for record, raw in records]
        with self.engine.connect() as conn:
            entries = ledger.get_many(conn, self.integration.name,
                                      [str(record.id) for record, _, _ in drafts])
        settled: list[str] = []  # already current at the destination: old dead letters moot
        advanced: list[tuple[RecordT, LedgerEntry]] = []  # newer version, same write
        skipped: list[tuple[RecordT, MappingSkipped]] = []
        planned: list[_Planned[RecordT, DraftT]] = []
        for record, raw, draft in drafts:
            if isinstance(draft, MappingRejected):
                self._dead_letter(record, raw, "map", draft.reason_code, draft.reason, outcome)
                continue
            if isinstance(draft, MappingSkipped):
                outcome.skipped += 1
                outcome.skip_reasons[draft.reason_code] += 1
                skipped.append((record, draft))
                continue
            entry = entries.get(draft.source_id)
            if entry is not None and entry.source_version > record.updated_at:
                outcome.stale_skipped += 1  # a newer version was already written
                continue
            if (entry is not None and entry.payload_hash == draft.payload_hash()
                    and draft.source_id not in force):
                outcome.unchanged += 1
                settled.append(draft.source_id)
                if record.updated_at > entry.source_version:
                    advanced.append((record, entry))
                continue
            planned.append(_Planned(record, raw, draft, entry))
        self._settle(skipped, settled, advanced)
        return planned

    def _settle(self, skipped: list[tuple[RecordT, MappingSkipped]], settled: list[str],
                advanced: list[tuple[RecordT, LedgerEntry]]) -> None:
        """Record what needs no write: skipped by policy, current, or current at a newer
        source version (the destination already says what that version says)."""
        name = self.integration.name
        with self.engine.begin() as conn:
            for record, skip in skipped:
                # Settled by policy: in the ledger, so nothing counts it as lost.
                ledger.upsert(conn, LedgerEntry(
                    integration=name, source_id=str(record.id),
                    business_date=self._day(record), source_version=record.updated_at,
                    destination_id="", destination_key="",
                    payload_hash=f"skip:{skip.reason_code}", status=SKIPPED))
                dead_letters.resolve(conn, name, str(record.id))
            for source_id in settled:
                dead_letters.resolve(conn, name, source_id)
            for record, entry in advanced:
                ledger.upsert(conn, LedgerEntry(
                    integration=entry.integration, source_id=entry.source_id,
                    business_date=entry.business_date, source_version=record.updated_at,
                    destination_id=entry.destination_id,
                    destination_key=entry.destination_key, payload_hash=entry.payload_hash,
                    status=entry.status, destination_updated_at=entry.destination_updated_at))

    def _sync_planned(self, item: _Planned[RecordT, DraftT], candidates: list[dict[str, Any]],
                      outcome: SyncOutcome) -> None:
        """Write one record inside its critical section: one writer per record.

        A transaction-scoped PostgreSQL advisory lock on (integration, record) is held from
        the ledger re-read through the destination write to the ledger commit, so two runs
        of the same record (the nightly run and a backfill, a re-run while the first still
        writes, change capture) take turns: the second sees the first's ledger row and
        updates that destination record, or skips as unchanged or stale. A writer that
        crashed after the destination's create but before its commit left no ledger row;
        the create's stable idempotency key then makes the destination answer with that
        record instead of a second one.
        """
        name, draft, record = self.integration.name, item.draft, item.record
        digest = draft.payload_hash()
        with self.engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                sa.func.hashtext(name), sa.func.hashtext(draft.source_id))))
            entry = ledger.get(conn, name, draft.source_id)
            if not _same_entry(entry, item.entry):
                # Another writer got here between our plan and our turn.
                if entry is not None and entry.source_version > record.updated_at:
                    outcome.stale_skipped += 1
                    return
                if entry is not None and entry.payload_hash == digest:
                    outcome.unchanged += 1
                    return
                candidates = []  # planned before that write: find it through the ledger
            refused = dead_letters.refusals(conn, name, draft.source_id)
            try:
                written = self.writer.write(draft, entry, candidates, refused)
            except DestinationConflict as conflict:
                outcome.conflicts += 1
                self._dead_letter(record, item.raw, "write", "destination_conflict",
                                  str(conflict), outcome)
                return
            except Exception as exc:
                reason = self.writer.dead_letter_reason(exc)
                if reason is None:
                    raise
                self._dead_letter(record, item.raw, "write", reason.code, reason.reason,
                                  outcome, request_id=reason.vendor_request_id)
                return
            outcome.duplicates_seen += written.duplicates_seen
            outcome.adopted += int(written.adopted)
            outcome.count(written.action)
            ledger.upsert(conn, LedgerEntry(
                integration=name, source_id=draft.source_id, business_date=self._day(record),
                source_version=record.updated_at, destination_id=written.destination_id,
                destination_key=draft.external_key, payload_hash=digest,
                status="voided" if draft.voided else "synced",
                destination_updated_at=written.destination_updated_at))
            dead_letters.resolve(conn, name, draft.source_id)

    def _dead_letter(self, record: RecordT, raw: dict[str, Any], stage: str, code: str,
                     reason: str, outcome: SyncOutcome, request_id: str | None = None) -> None:
        with self.engine.begin() as conn:
            dead_letters.record(conn, dead_letters.DeadLetter(
                integration=self.integration.name, source_id=str(record.id),
                business_date=self._day(record), stage=stage, reason_code=code,
                reason=reason, payload=raw, vendor_request_id=request_id))
        outcome.dead_lettered += 1
        outcome.dead_letter_reasons[code] += 1


def _same_entry(now: LedgerEntry | None, planned: LedgerEntry | None) -> bool:
    """The ledger row is the one the plan saw (none then and now, or the same write)."""
    if now is None or planned is None:
        return now is None and planned is None
    return (now.payload_hash, now.source_version, now.destination_id) == (
        planned.payload_hash, planned.source_version, planned.destination_id)
