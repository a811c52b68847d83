"""One writer per record when a destination creates records in batches (Xero: up to 50
invoices a request), by construction rather than by the destination refusing a duplicate.

The shared engine's critical section is one record's transaction-scoped advisory lock,
taken just before that record's write; a batch sends many records before any of those
sections. So the Xero pair's sync claims every record of a chunk first: a session-level
PostgreSQL advisory lock per record (`claim:<integration>`, record id), taken in one global
order so two claimers never wait on each other in a cycle, held by this sync's own session
across transactions. Under the claims it looks the records up, reads the ledger again and
sends in the batch only the records no other writer wrote meanwhile; then each record is
written in its usual critical section (settling its own batch answer: saved, or refused
with its own `ValidationErrors` as its dead letter) and its claim released once its ledger
row is committed. A second sync of the same records (the nightly run and a backfill, a
re-run, the change path) waits at the claim, then finds the first one's ledger rows: it
sends nothing for them. Every writer of the pair goes through the claims, so the records'
own locks are never waited for while a claim is held.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from itertools import islice
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.sync import dead_letters, ledger
from integrations_pipelines.sync.engine import RecordSync, SyncOutcome, _same_entry
from integrations_pipelines.sync.roles import DraftT, RecordT

__all__ = ["ClaimedBatchSync", "claim", "release", "release_all"]

CLAIM = "claim:"


def _key(integration: str, source_id: Any) -> tuple[sa.ColumnElement[Any], ...]:
    return sa.func.hashtext(CLAIM + integration), sa.func.hashtext(source_id)


def claim(conn: sa.Connection, integration: str, source_ids: Collection[str]) -> None:
    """Claim the records for this connection's session, waiting for any other holder; in
    the order of the claim keys, the same for every claimer (no cycles)."""
    ordered = conn.execute(
        sa.select(sa.column("id", sa.Text))
        .select_from(sa.func.unnest(sa.cast(sorted(set(source_ids)),
                                            sa.ARRAY(sa.Text))).alias("id"))
        .order_by(sa.func.hashtext(sa.column("id", sa.Text)), sa.column("id", sa.Text))
    ).scalars().all()
    for source_id in ordered:
        conn.execute(sa.select(sa.func.pg_advisory_lock(*_key(integration, source_id))))


def release(conn: sa.Connection, integration: str, source_id: str) -> None:
    """Release one claimed record (its write is committed, or it needed none)."""
    conn.execute(sa.select(sa.func.pg_advisory_unlock(*_key(integration, source_id))))


def release_all(conn: sa.Connection) -> None:
    """Release every claim of the session (a pooled connection outlives its sync)."""
    conn.execute(sa.select(sa.func.pg_advisory_unlock_all()))


class ClaimedBatchSync(RecordSync[RecordT, DraftT]):
    """The shared engine with every record of a chunk claimed before its batch is sent;
    the writer's `prepare_chunk` (if any) sends the batch of the records still unwritten."""

    def run(self, records: Iterable[tuple[RecordT, dict[str, Any]]], *,
            force: Collection[str] = ()) -> SyncOutcome:
        outcome = SyncOutcome()
        remaining = iter(records)
        name = self.integration.name
        with self.engine.connect() as claims:
            try:
                while chunk := list(islice(remaining, self.chunk_size)):
                    planned = self._plan(chunk, force, outcome)
                    del chunk
                    ids = [p.draft.source_id for p in planned]
                    claim(claims, name, ids)
                    now = ledger.get_many(claims, name, ids)
                    untouched = [p for p in planned
                                 if _same_entry(now.get(p.draft.source_id), p.entry)]
                    refused = [dead_letters.refusals(claims, name, p.draft.source_id)
                               for p in untouched]
                    claims.commit()  # the claims are the session's: they outlive it
                    found = self.writer.find_by_external_keys(
                        [p.draft.external_key for p in planned])
                    prepare = getattr(self.writer, "prepare_chunk", None)
                    if prepare is not None and untouched:
                        prepare([(p.draft, p.entry, found.get(p.draft.external_key, []), n)
                                 for p, n in zip(untouched, refused, strict=True)])
                    for item in planned:
                        self._sync_planned(item, found.get(item.draft.external_key, []),
                                           outcome)
                        release(claims, name, item.draft.source_id)
                        claims.commit()
                    del planned, found
            finally:
                try:
                    release_all(claims)
                    claims.commit()
                except sa.exc.DBAPIError:
                    claims.invalidate()  # a broken session ends, and its claims with it
        return outcome
