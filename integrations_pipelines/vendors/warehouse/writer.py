"""A warehouse table as a sync destination: one row per source record, written by key.

The table is the pair's (its typed columns are the pair's model of the record); what every
such table has is the row's external key (its primary key), the source id and version, the
hash of the mapped values and a `voided` flag, so a cancelled record stays a row that says
so. A write is one guarded upsert: `INSERT ... ON CONFLICT (external_key) DO UPDATE ...
WHERE (columns) IS DISTINCT FROM (excluded columns)`, so re-loading a record that did
not change writes nothing (the guard compares the row's values as they are, so a row edited
by hand is rewritten), and a changed one updates its row in place. A value the table
cannot hold (a number out of range, text it rejects) is that record's dead letter, never the
run's failure. The table and its schema are created when missing; a changed column is a
migration of the pair, not something the writer guesses.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from integrations_pipelines.sync.ledger import LedgerEntry
from integrations_pipelines.sync.roles import DeadLetterReason, Draft, Written

__all__ = ["RowDraft", "TableWriter", "key_columns"]



UNCOMPARED = ("external_key", "source_version", "loaded_at")  # not a reason to write


def key_columns() -> list[sa.Column[Any]]:
    """The columns every warehouse table of a pair starts with."""
    return [
        sa.Column("external_key", sa.Text, primary_key=True),
        sa.Column("source_id", sa.Text, nullable=False),
        sa.Column("source_version", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload_hash", sa.Text, nullable=False),
        sa.Column("voided", sa.Boolean, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    ]


class RowDraft(Draft, Protocol):
    """A draft that is one warehouse row."""

    def row(self) -> dict[str, Any]:
        """The pair's typed columns and `source_version` (the other key columns are the
        writer's)."""
        ...


class TableWriter:
    """One warehouse table, loaded idempotently by external key (a `DestinationWriter`)."""

    def __init__(self, engine: sa.Engine, table: sa.Table) -> None:
        self.engine = engine
        self.table = table

    def ensure(self) -> None:
        """Create the table's schema and the table when they are missing."""
        with self.engine.begin() as conn:
            if self.table.schema:
                conn.execute(sa.schema.CreateSchema(self.table.schema, if_not_exists=True))
            self.table.create(conn, checkfirst=True)

    def find_by_external_keys(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if not keys:
            return found
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(self.table)
                                    .where(self.table.c.external_key.in_(list(keys)))):
                found.setdefault(row.external_key, []).append(dict(row._mapping))
        return found

    def write(self, draft: RowDraft, entry: LedgerEntry | None,
              candidates: list[dict[str, Any]], refused: int) -> Written:
        """Upsert the draft's row; `unchanged` when the row already holds these values."""
        values = {**draft.row(), "external_key": draft.external_key,
                  "source_id": draft.source_id, "payload_hash": draft.payload_hash(),
                  "voided": draft.voided, "loaded_at": datetime.now(UTC)}
        new = insert(self.table).values(**values)
        compared = [name for name in values if name not in UNCOMPARED]
        stmt = new.on_conflict_do_update(
            index_elements=[self.table.c.external_key],
            set_={name: new.excluded[name] for name in values if name != "external_key"},
            # The row as it is, not the hash we wrote: a hand edit is a difference too.
            where=sa.tuple_(*(self.table.c[n] for n in compared)).is_distinct_from(
                sa.tuple_(*(new.excluded[n] for n in compared))),
        ).returning(self.table.c.loaded_at)
        with self.engine.begin() as conn:
            before = conn.execute(sa.select(self.table.c.voided).where(
                self.table.c.external_key == draft.external_key)).scalar_one_or_none()
            loaded = conn.execute(stmt).scalar_one_or_none()
        if loaded is None:
            return Written(draft.external_key, "unchanged", None)
        if before is None:
            return Written(draft.external_key, "created", loaded)
        return Written(draft.external_key, "voided" if draft.voided and not before
                       else "updated", loaded)

    def dead_letter_reason(self, exc: Exception) -> DeadLetterReason | None:
        """A value the table refuses is this record's dead letter; anything else (the
        warehouse down, a missing table) fails the run."""
        if isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError):
            detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            return DeadLetterReason("warehouse_rejected_value",
                                    f"{self.table.fullname} refused the row: {detail}")
        return None
