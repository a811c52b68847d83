"""The shared sync engine knows no vendor: a second, tiny destination (a notes board that
keeps one note per key) plugs in through the writer role alone, and the engine's rules hold
for it: idempotent re-runs, updates of changed records, stale versions skipped, one refused
record dead-lettered while the others land."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.state.tables import dead_letters, sync_ledger
from integrations_pipelines.sync.engine import RecordSync
from integrations_pipelines.sync.ledger import LedgerEntry
from integrations_pipelines.sync.roles import DeadLetterReason, MappingRejected, Written

WHERE = integration("shopify_to_quickbooks")  # a name and a timezone for the ledger
T0 = datetime(2026, 11, 3, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Lead:
    """A source record: an id, a version and a name."""

    id: int
    updated_at: datetime
    name: str


@dataclass(frozen=True)
class NoteDraft:
    source_id: str
    external_key: str
    text: str
    voided: bool = False

    def payload_hash(self) -> str:
        return hashlib.sha256(f"{self.external_key}|{self.text}".encode()).hexdigest()


class Refused(Exception):
    """The board refuses a note (its own validation)."""


class NotesBoard:
    """A destination that keeps one note per key and refuses empty text."""

    def __init__(self) -> None:
        self.notes: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def find_by_external_keys(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        return {key: [self.notes[key]] for key in keys if key in self.notes}

    def write(self, draft: NoteDraft, entry: LedgerEntry | None,
              candidates: list[dict[str, Any]], refused: int) -> Written:
        if not draft.text.strip():
            raise Refused("a note needs text")
        self.writes += 1
        action = "updated" if candidates or entry is not None else "created"
        self.notes[draft.external_key] = {"id": draft.external_key, "text": draft.text}
        return Written(draft.external_key, action, None)

    def dead_letter_reason(self, exc: Exception) -> DeadLetterReason | None:
        return DeadLetterReason("board_refused", str(exc)) if isinstance(exc, Refused) else None


def to_note(lead: Lead, _: object) -> NoteDraft | MappingRejected:
    if lead.name == "?":
        return MappingRejected("unnamed", "the lead has no name")
    return NoteDraft(str(lead.id), f"L{lead.id}", lead.name)


def day_of(lead: Lead, _tz: str) -> date:
    return lead.updated_at.date()


def test_a_second_destination_runs_on_the_engine_alone(engine: sa.Engine) -> None:
    board = NotesBoard()
    sync = RecordSync(engine, WHERE, board, to_note, day_of)
    leads = [Lead(1, T0, "Ada"), Lead(2, T0, "Grace"), Lead(3, T0, " "), Lead(4, T0, "?")]
    first = sync.run((lead, {"id": lead.id}) for lead in leads)
    assert (first.created, first.dead_lettered) == (2, 2)
    assert sorted(first.dead_letter_reasons) == ["board_refused", "unnamed"]
    assert {k: v["text"] for k, v in board.notes.items()} == {"L1": "Ada", "L2": "Grace"}

    again = sync.run((lead, {"id": lead.id}) for lead in leads[:2])
    assert (again.unchanged, board.writes) == (2, 2)  # a re-run writes nothing

    later = T0 + timedelta(hours=1)
    changed = sync.run([(Lead(1, later, "Ada L."), {}), (Lead(2, T0 - timedelta(hours=1),
                                                             "Old Grace"), {})])
    assert (changed.updated, changed.stale_skipped) == (1, 1)
    assert board.notes["L1"]["text"] == "Ada L." and board.notes["L2"]["text"] == "Grace"

    with engine.connect() as conn:
        ledger = dict(conn.execute(sa.select(sync_ledger.c.source_id,
                                             sync_ledger.c.destination_key)).all())
        letters = conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar()
    assert ledger == {"1": "L1", "2": "L2"} and letters == 2
