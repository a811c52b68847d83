"""Extracted source records into the raw store, each one on its own.

One record never blocks the others: an order that does not fit our model, or that
PostgreSQL cannot store (U+0000 in a note), becomes a dead letter with its reason and its
payload kept safely (`state/payloads.py`); every other order of the window is stored in the
raw store (`raw_records`, shaped by `vendors/shopify/records.py`).

A window is stored a page at a time, so a run holds one page of payloads and models however
many days it covers (a backfill): each page's orders are merged and its dead letters
recorded in one transaction, committed before the next page is requested; the orders the
window no longer has are deleted once its last page is stored (`raw.WindowReplacement`:
replace-window semantics per window, unchanged orders written zero times). A re-run leaves
exactly one row per order; a run that fails halfway leaves the pages it read stored and
deletes nothing. `StoredOrders` reads a stored window back the same way, a chunk at a time,
for the syncs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.state import raw
from integrations_pipelines.state.payloads import has_nul
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.vendors.contracts import Screened
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, business_date, order_record

__all__ = ["ExtractionOutcome", "StoredOrders", "store_changed_orders", "store_orders"]

MAX_REASON = 4000


@dataclass
class ExtractionOutcome:
    """What one extraction did with the window's orders."""

    extracted: int = 0
    stored: int = 0
    invalid: int = 0
    unstorable: int = 0

    @property
    def dead_lettered(self) -> int:
        return self.invalid + self.unstorable


def _source_id(payload: Any) -> str:
    ident = payload.get("id") if isinstance(payload, dict) else None
    return str(ident) if ident is not None else "(no id)"


def _screen(integration: Integration, screened: Iterable[Screened[Order]], default_day: date,
            outcome: ExtractionOutcome,
            ) -> tuple[list[raw.RawRecord], list[dead_letters.DeadLetter], list[Order]]:
    """Records to store, letters to record, and the valid orders, one record at a time."""
    rows: list[raw.RawRecord] = []
    letters: list[dead_letters.DeadLetter] = []
    valid: list[Order] = []
    for item in screened:
        outcome.extracted += 1
        order = item.instance
        if order is None:
            outcome.invalid += 1
            letters.append(dead_letters.DeadLetter(
                integration=integration.name, source_id=_source_id(item.payload),
                business_date=default_day, stage="validate", reason_code="contract_violation",
                reason=f"order does not match the Order model: {item.error}"[:MAX_REASON],
                payload=item.payload))
            continue
        day = business_date(order, integration.timezone)
        if has_nul(item.payload):
            outcome.unstorable += 1
            letters.append(dead_letters.DeadLetter(
                integration=integration.name, source_id=str(order.id), business_date=day,
                stage="validate", reason_code="unstorable_payload",
                reason="the order holds U+0000 (NUL) in a text field, which PostgreSQL cannot "
                "store; its exact JSON is kept escaped in this letter. Remove the character "
                "in Shopify (it usually comes from a copy-paste into a note), then re-run.",
                payload=item.payload))
            continue
        rows.append(order_record(order, item.payload, day))
        valid.append(order)
    return rows, letters, valid


def store_orders(engine: sa.Engine, integration: Integration, start: date, end: date,
                 pages: Iterable[Iterable[Screened[Order]]],
                 run_id: str | None, kind: raw.RecordKind = ORDERS) -> ExtractionOutcome:
    """Store the valid orders of business days [start, end), page by page (each committed
    before the next page is taken from `pages`); dead-letter the others. Once every page is
    stored, the window's orders that no page had are deleted. `kind`: the shop's orders."""
    outcome = ExtractionOutcome()
    stored = 0
    with engine.connect() as conn:
        replacement = raw.WindowReplacement(conn, kind, start, end, run_id)
        conn.commit()
        for page in pages:
            rows, letters, _ = _screen(integration, page, start, outcome)
            for letter in letters:
                dead_letters.record(conn, letter)
            replacement.add(rows)
            conn.commit()
            stored += len(rows)
            del rows, letters, page  # nothing of a stored page outlives it
        replacement.finish()
        conn.commit()
    outcome.stored = stored
    return outcome


class StoredOrders:
    """The stored orders of business days [start, end) (only the ids in `only`, if given),
    validated as they are read, a chunk (`raw.window_chunks`) at a time: iterating holds
    one chunk of payloads and models, however long the window. `read` counts the orders
    given so far. `kind`: the shop's orders (the default shop's unless told)."""

    def __init__(self, engine: sa.Engine, start: date, end: date, *,
                 only: Collection[str] | None = None, chunk: int = raw.CHUNK,
                 kind: raw.RecordKind = ORDERS) -> None:
        self.engine, self.start, self.end, self.chunk = engine, start, end, chunk
        self.only = only
        self.kind = kind
        self.read = 0

    def __iter__(self) -> Iterator[tuple[Order, dict[str, Any]]]:
        for rows in raw.window_chunks(self.engine, self.kind, self.start, self.end,
                                      self.chunk):
            for row in rows:
                if self.only is None or row.record_key in self.only:
                    self.read += 1
                    yield Order.model_validate(row.payload), row.payload


def store_changed_orders(engine: sa.Engine, integration: Integration, today: date,
                         screened: Iterable[Screened[Order]], run_id: str | None,
                         ) -> tuple[ExtractionOutcome, list[tuple[Order, dict[str, Any]]]]:
    """Store orders from the change feed (any creation day), newest version kept; invalid
    ones are dead-lettered like in the nightly extraction. Returns the valid orders with
    their payloads, to be re-synced."""
    outcome = ExtractionOutcome()
    rows, letters, valid = _screen(integration, screened, today, outcome)
    outcome.stored = len(rows)
    with engine.begin() as conn:
        for letter in letters:
            dead_letters.record(conn, letter)
        raw.upsert_newer(conn, ORDERS, rows, run_id)
    return outcome, [(order, row.payload) for order, row in zip(valid, rows, strict=True)]
