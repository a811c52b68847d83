"""The roles a pair plugs into the shared sync engine, as typed protocols.

A *source* gives records that know their id and their vendor version (`SourceRecord`). A
*pair* maps one record to the destination's draft, or rejects it with a reason, or settles
it as skipped by policy (`Mapper`), and says which business day a record belongs to. A
*destination* writes drafts (`DestinationWriter`): finds records by the pair's external
key, creates, updates or voids one, and turns its own permanent failures into dead-letter
reasons. The engine (`sync/engine.py`) knows nothing else about any vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from integrations_pipelines.sync.ledger import LedgerEntry

__all__ = ["DeadLetterReason", "DestinationConflict", "DestinationWriter", "Draft",
           "MappingRejected", "MappingSkipped", "SourceRecord", "Written"]


@dataclass(frozen=True)
class MappingRejected:
    """A record that cannot become a destination record; it goes to the dead letters."""

    reason_code: str
    reason: str


@dataclass(frozen=True)
class MappingSkipped:
    """A record the catalog says not to book (e.g. a test order): settled, not lost."""

    reason_code: str


class DestinationConflict(Exception):
    """A destination record with our external key that this integration did not write."""


class SourceRecord(Protocol):
    """A validated source record: its vendor id and its vendor version."""

    @property
    def id(self) -> int | str: ...

    @property
    def updated_at(self) -> datetime: ...


class Draft(Protocol):
    """The desired state of one destination record for one source version."""

    @property
    def source_id(self) -> str: ...

    @property
    def external_key(self) -> str: ...

    @property
    def voided(self) -> bool: ...

    def payload_hash(self) -> str: ...


DraftT = TypeVar("DraftT", bound=Draft)
DraftT_contra = TypeVar("DraftT_contra", bound=Draft, contravariant=True)
RecordT = TypeVar("RecordT", bound=SourceRecord)

Mapper = Callable[[RecordT, Any], "DraftT | MappingRejected | MappingSkipped"]
BusinessDay = Callable[[RecordT, str], date]


@dataclass(frozen=True)
class Written:
    """What one write did: the destination record's id and version, and the action taken
    (`created`, `updated`, `voided` or `unchanged`), plus what the lookup noticed."""

    destination_id: str
    action: str
    destination_updated_at: datetime | None
    duplicates_seen: int = 0
    adopted: bool = False


@dataclass(frozen=True)
class DeadLetterReason:
    """A destination's permanent refusal of one record, as a dead letter states it."""

    code: str
    reason: str
    vendor_request_id: str | None = None


class DestinationWriter(Protocol[DraftT_contra]):
    """One destination account, written idempotently by external key."""

    def find_by_external_keys(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The destination records carrying each external key (crash recovery)."""
        ...

    def write(self, draft: DraftT_contra, entry: LedgerEntry | None,
              candidates: list[dict[str, Any]], refused: int) -> Written:
        """Create, update or void the record for `draft`; `entry` is the ledger's last
        write, `candidates` the records found by external key, `refused` how many earlier
        attempts were dead-lettered. Raises `DestinationConflict` for a record we did not
        write."""
        ...

    def dead_letter_reason(self, exc: Exception) -> DeadLetterReason | None:
        """The dead-letter reason for a refusal of this one record, or None when `exc` must
        fail the run (a transient or systemic failure)."""
        ...
