"""Extracted source records into the raw store, each one on its own.

One record never blocks the others: an order that does not fit our model, or that
PostgreSQL cannot store (U+0000 in a note), becomes a dead letter with its reason and its
payload kept safely (`state/payloads.py`); every other order of the window is stored in the
raw store (`raw_records`, shaped by `vendors/shopify/records.py`). The window is replaced
whole in one transaction, so a re-run leaves exactly one row per order.
"""

from __future__ import annotations

from collections.abc import Iterable
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

__all__ = ["ExtractionOutcome", "store_changed_orders", "store_orders"]

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
    outcome.stored = len(rows)
    return rows, letters, valid


def store_orders(engine: sa.Engine, integration: Integration, start: date, end: date,
                 screened: Iterable[Screened[Order]], run_id: str | None) -> ExtractionOutcome:
    """Store the valid orders of business days [start, end); dead-letter the others."""
    outcome = ExtractionOutcome()
    rows, letters, _ = _screen(integration, screened, start, outcome)
    with engine.begin() as conn:
        for letter in letters:
            dead_letters.record(conn, letter)
        raw.replace_window(conn, ORDERS, start, end, rows, run_id)
    return outcome


def store_changed_orders(engine: sa.Engine, integration: Integration, today: date,
                         screened: Iterable[Screened[Order]], run_id: str | None,
                         ) -> tuple[ExtractionOutcome, list[tuple[Order, dict[str, Any]]]]:
    """Store orders from the change feed (any creation day), newest version kept; invalid
    ones are dead-lettered like in the nightly extraction. Returns the valid orders with
    their payloads, to be re-synced."""
    outcome = ExtractionOutcome()
    rows, letters, valid = _screen(integration, screened, today, outcome)
    with engine.begin() as conn:
        for letter in letters:
            dead_letters.record(conn, letter)
        raw.upsert_newer(conn, ORDERS, rows, run_id)
    return outcome, [(order, row.payload) for order, row in zip(valid, rows, strict=True)]
