"""Stripe objects of a day window into the raw store, each one on its own.

For one list (`charges`, `refunds`, `disputes`, `payouts`, `balance_transactions`) the
window's objects are read a page at a time and stored with replace-window semantics
(`raw.WindowReplacement`: each page merged and committed before the next is requested, an
unchanged object written zero times, the objects the window no longer has deleted after
the last page). An object that does not fit our model, or that PostgreSQL cannot store, is a
dead letter with its reason and payload; the rest of the window goes on. For payouts, the
balance transactions each automatic payout paid out are stored too (`payout_items`), as
Stripe lists them with `?payout=`: the ledger's grouping, which reconciliation checks.

Changes after the day (a refund weeks later moves its charge's `amount_refunded`; a dispute
closes) come through the Events API: `store_changed` keeps each object's newest version
(the event's `created`), whatever its day, and never replaces a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.state import raw
from integrations_pipelines.state.payloads import has_nul
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.vendors.contracts import Screened
from integrations_pipelines.vendors.stripe.client import StripeClient
from integrations_pipelines.vendors.stripe.models import Payout, StripeObject
from integrations_pipelines.vendors.stripe.records import (
    PAYOUT_ITEMS,
    business_date,
    kind,
    object_record,
    payout_item_record,
)

__all__ = ["Extracted", "store_changed", "store_window"]

MAX_REASON = 4000


@dataclass
class Extracted:
    """What one extraction did."""

    extracted: int = 0
    stored: int = 0
    dead_lettered: int = 0
    written: int = 0
    deleted: int = 0
    payout_items: int = 0
    by_currency: dict[str, int] = field(default_factory=dict)


def _letter(integration: Integration, payload: Any, day: date, code: str,
            reason: str) -> dead_letters.DeadLetter:
    ident = payload.get("id") if isinstance(payload, dict) else None
    return dead_letters.DeadLetter(
        integration=integration.name, source_id=str(ident) if ident else "(no id)",
        business_date=day, stage="validate", reason_code=code, reason=reason[:MAX_REASON],
        payload=payload)


def _screen(integration: Integration, page: Iterable[Screened[Any]], day: date,
            out: Extracted, version: dict[str, int] | None = None,
            ) -> tuple[list[raw.RawRecord], list[dead_letters.DeadLetter]]:
    rows: list[raw.RawRecord] = []
    letters: list[dead_letters.DeadLetter] = []
    for item in page:
        out.extracted += 1
        if item.instance is None:
            letters.append(_letter(integration, item.payload, day, "contract_violation",
                                   f"object does not match its model: {item.error}"))
            continue
        obj: StripeObject = item.instance
        when = business_date(obj.created, integration.timezone)
        if has_nul(item.payload):
            letters.append(_letter(integration, item.payload, when, "unstorable_payload",
                                   "the object holds U+0000 (NUL) in a text field, which "
                                   "PostgreSQL cannot store; its JSON is kept escaped here"))
            continue
        currency = str(item.payload.get("currency"))
        out.by_currency[currency] = out.by_currency.get(currency, 0) + 1
        rows.append(object_record(item.payload, integration.timezone,
                                  (version or {}).get(obj.id)))
    out.dead_lettered += len(letters)
    return rows, letters


def store_window(engine: sa.Engine, client: StripeClient, integration: Integration,
                 resource: str, account: str, start: date, end: date, window: tuple[Any, Any],
                 run_id: str | None) -> Extracted:
    """Store the `resource` objects created in the window (business days [start, end),
    `window` its aware bounds), page by page; dead-letter the bad ones."""
    out = Extracted()
    payouts: list[dict[str, Any]] = []
    with engine.connect() as conn:
        replacement = raw.WindowReplacement(conn, kind(resource, account), start, end, run_id)
        conn.commit()
        for page in client.window_pages(resource, *window):
            rows, letters = _screen(integration, page, start, out)
            for letter in letters:
                dead_letters.record(conn, letter)
            replacement.add(rows)
            conn.commit()
            out.stored += len(rows)
            if resource == "payouts":
                payouts += [r.payload for r in rows]
        done = replacement.finish()
        conn.commit()
    out.written, out.deleted = done.written, done.deleted
    if payouts:
        out.payout_items = store_payout_items(engine, client, integration, account, start,
                                              end, payouts, run_id)
    return out


def store_payout_items(engine: sa.Engine, client: StripeClient, integration: Integration,
                       account: str, start: date, end: date, payouts: list[dict[str, Any]],
                       run_id: str | None) -> int:
    """Which balance transactions each automatic payout of the window paid out, as Stripe
    lists them (manual payouts have no such list: Stripe cannot say what they paid)."""
    items: list[raw.RawRecord] = []
    for payout in payouts:
        if not Payout.model_validate(payout).automatic:
            continue
        for item in client.payout_transactions(payout["id"]):
            if item.instance is not None:
                items.append(payout_item_record(payout, item.payload, integration.timezone))
    with engine.begin() as conn:
        raw.replace_window(conn, kind(PAYOUT_ITEMS, account), start, end, items, run_id)
    return len(items)


def store_changed(engine: sa.Engine, integration: Integration, account: str,
                  objects: list[tuple[str, Screened[Any], int]], run_id: str | None,
                  today: date) -> tuple[Extracted, dict[str, set[date]]]:
    """Store objects carried by events (`(resource, screened object, event created)`),
    newest version kept whatever their day; returns what was done and, per list, the
    business days touched (to be re-loaded)."""
    out = Extracted()
    touched: dict[str, set[date]] = {}
    with engine.begin() as conn:
        for resource in sorted({r for r, _, _ in objects}):
            mine = [(s, v) for r, s, v in objects if r == resource]
            versions = {s.instance.id: v for s, v in mine if s.instance is not None}
            rows, letters = _screen(integration, [s for s, _ in mine], today, out, versions)
            for letter in letters:
                dead_letters.record(conn, letter)
            written = raw.upsert_newer(conn, kind(resource, account), rows, run_id)
            out.stored += len(rows)
            out.written += written.written
            touched[resource] = {r.business_date for r in rows}
    return out, touched
