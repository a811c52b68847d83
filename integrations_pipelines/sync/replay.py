"""Replay dead letters through the current mapping and the same idempotent write path.

After a fix (a mapping change, a model that now knows a vendor's new type, data corrected
at the source, credentials restored), the records that were dead-lettered are sent again:
each stored payload is validated against the source's current model, mapped by the current
mapping and written by the same `RecordSync` a nightly run uses (the pair's binding: ledger,
idempotency keys, lookup by external key), so replaying twice, or replaying records that
were synced meanwhile, never creates a second destination record. A letter whose record now
syncs (or is already current at the destination) is resolved; one that still fails stays
open with its new reason and one more attempt counted. No vendor is named here: the caller
gives the pair's sync and the source's model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pydantic
import sqlalchemy as sa

from integrations_pipelines.state.tables import dead_letters as dead_letters_table
from integrations_pipelines.sync import dead_letters, ledger
from integrations_pipelines.sync.engine import RecordSync, SyncOutcome

__all__ = [
    "REASON_EXCERPT",
    "LetterFilter",
    "ReplayOutcome",
    "describe_letters",
    "replay_dead_letters",
]

REASON_EXCERPT = 120


@dataclass(frozen=True)
class LetterFilter:
    """Which open letters: all of an integration, or those of [start, end) and one reason."""

    integration: str
    start: date | None = None
    end: date | None = None
    reason_code: str | None = None

    @classmethod
    def from_days(cls, integration: str, reason_code: str | None = None,
                  first_day: str | None = None, last_day: str | None = None) -> LetterFilter:
        """From ISO dates as people give them: both business days included."""
        return cls(integration=integration,
                   start=date.fromisoformat(first_day) if first_day else None,
                   end=date.fromisoformat(last_day) + timedelta(days=1) if last_day else None,
                   reason_code=reason_code)

    def select(self, conn: sa.Connection) -> list[sa.Row[Any]]:
        letters = dead_letters.open_letters(conn, self.integration, start=self.start,
                                            end=self.end)
        return [r for r in letters if self.reason_code in (None, r.reason_code)]


@dataclass
class ReplayOutcome:
    """What a replay did: letters selected, resolved and still failing (by reason code)."""

    selected: int = 0
    resolved: int = 0
    still_failing: int = 0
    still_failing_reasons: Counter[str] = field(default_factory=Counter)
    sync: SyncOutcome = field(default_factory=SyncOutcome)

    def summary(self) -> str:
        reasons = ", ".join(f"{code}: {n}" for code, n in self.still_failing_reasons.most_common())
        return (f"{self.selected} dead letters replayed: {self.resolved} resolved, "
                f"{self.still_failing} still failing" + (f" ({reasons})" if reasons else "")
                + f"; destination records created {self.sync.created}, updated "
                f"{self.sync.updated}, voided {self.sync.voided}, already current "
                f"{self.sync.unchanged}")


def replay_dead_letters(engine: sa.Engine, sync: RecordSync[Any, Any],
                        model: type[pydantic.BaseModel], which: LetterFilter) -> ReplayOutcome:
    """Replay the open letters `which` selects through `sync` (the pair's binding, whose
    records are `model`s); returns what became of them."""
    name = sync.integration.name
    if which.integration != name:
        raise ValueError(f"the letters of {which.integration!r} cannot be replayed through "
                         f"the sync of {name!r}")
    with engine.connect() as conn:
        letters = which.select(conn)
    outcome = ReplayOutcome(selected=len(letters))
    pairs: list[tuple[Any, dict[str, Any]]] = []
    for letter in letters:
        try:
            pairs.append((model.model_validate(letter.payload), letter.payload))
        except pydantic.ValidationError as exc:
            _still_invalid(engine, name, model, letter, exc)
    outcome.sync = sync.run(pairs)
    _resolve_superseded(engine, name, pairs)
    with engine.connect() as conn:
        after = conn.execute(
            sa.select(dead_letters_table.c.resolved_at, dead_letters_table.c.reason_code)
            .where(dead_letters_table.c.id.in_([letter.id for letter in letters]))
        ).all()
    for row in after:
        if row.resolved_at is not None:
            outcome.resolved += 1
        else:
            outcome.still_failing += 1
            outcome.still_failing_reasons[row.reason_code] += 1
    return outcome


def _still_invalid(engine: sa.Engine, integration: str, model: type[pydantic.BaseModel],
                   letter: sa.Row[Any], exc: pydantic.ValidationError) -> None:
    with engine.begin() as conn:
        dead_letters.record(conn, dead_letters.DeadLetter(
            integration=integration, source_id=letter.source_id,
            business_date=letter.business_date, stage="validate",
            reason_code="contract_violation",
            reason=f"record does not match the {model.__name__} model: {exc}"[:4000],
            payload=letter.payload,
        ))


def _resolve_superseded(engine: sa.Engine, integration: str,
                        pairs: Sequence[tuple[Any, dict[str, Any]]]) -> None:
    """A letter whose record the ledger holds at the same or a newer version is moot: a
    later run synced that record (its letter was recorded after, e.g. by a slower run)."""
    versions = {str(record.id): record for record, _ in pairs}
    with engine.begin() as conn:
        entries = ledger.get_many(conn, integration, list(versions))
        for source_id, entry in entries.items():
            if entry.source_version >= versions[source_id].updated_at:
                dead_letters.resolve(conn, integration, source_id)


def describe_letters(rows: Sequence[sa.Row[Any]]) -> str:
    """The open letters as a table a person reads in a terminal, with counts by reason."""
    if not rows:
        return "no open dead letters"
    lines = [f"{'id':>6}  {'business day':<12}  {'source id':<20}  {'stage':<8}  "
             f"{'reason code':<28}  {'tries':>5}  reason"]
    for r in rows:
        day = r.business_date.isoformat() if r.business_date else "-"
        reason = " ".join(r.reason.split())[:REASON_EXCERPT]
        lines.append(f"{r.id:>6}  {day:<12}  {r.source_id:<20}  {r.stage:<8}  "
                     f"{r.reason_code:<28}  {r.attempts:>5}  {reason}")
    counts = Counter(r.reason_code for r in rows)
    lines.append("")
    lines.append(f"{len(rows)} open: " + ", ".join(f"{c} {n}" for c, n in counts.most_common()))
    return "\n".join(lines)
