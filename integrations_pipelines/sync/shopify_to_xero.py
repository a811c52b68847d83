"""The Shopify -> Xero pair bound to the shared sync engine, its read-back and its repair.

The engine plans a chunk, skips by ledger hash, guards stale versions, dead-letters and
commits one order at a time under its advisory lock; the chunk's orders are claimed before
any batch is sent (`xero_batch_claims`: one writer per order by construction); the mapping
makes the order's Xero documents; Xero's `DocumentWriter` creates the claimed chunk's new
invoices 50 per request and then, order by order, its credit notes, payment or void. The
read-back stores the window's invoices as Xero states them in the raw store (`xero/invoices`
of the tenant), with the credit notes allocated to them or carrying their orders' marker
(`xero/credit_notes`, filed under their invoice's day) and the organisation's tax rates for
the VAT check; a repair re-syncs exactly the orders the reconciliation found missing, stale
or wrong, forcing the write (the ledger believes those documents are current).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration, as_entry
from integrations_pipelines.mapping.shopify_to_xero import ORDER_MARKER, map_order
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.shopify_to_xero import reconcile
from integrations_pipelines.reconciliation.window import WindowReconciliation
from integrations_pipelines.state import raw
from integrations_pipelines.sync.engine import RecordSync, SyncOutcome
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.sync.xero_batch_claims import ClaimedBatchSync
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import business_date, orders_kind
from integrations_pipelines.vendors.xero.client import XeroClient, connect
from integrations_pipelines.vendors.xero.dates import parse_xero_date
from integrations_pipelines.vendors.xero.drafts import XeroInvoiceDraft
from integrations_pipelines.vendors.xero.records import (
    credit_note_record,
    credit_notes_kind,
    invoice_record,
    invoices_kind,
)
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines.vendors.xero.writer import DocumentWriter

__all__ = ["RESYNCED", "BooksRead", "Repaired", "order_sync", "read_back", "read_books",
           "repair_window", "replay_binding", "sync_stored"]

RESYNCED = (Outcome.MISSING, Outcome.STALE, Outcome.WRONG_VALUES)
Mapped = XeroInvoiceDraft | MappingRejected | MappingSkipped
Mapper = Callable[[Order, ShopifyToXeroEntry], Mapped]
MARKER = re.compile(re.escape(ORDER_MARKER) + r"\d+")


def order_sync(engine: sa.Engine, client: XeroClient, entry: ShopifyToXeroEntry,
               mapper: Mapper = map_order) -> RecordSync[Order, XeroInvoiceDraft]:
    """The sync of one entry's orders into one Xero organisation."""
    writer = DocumentWriter(client, owner_marker=ORDER_MARKER, source_label="Shopify order",
                            adopt_existing=entry.xero.existing_invoices == "adopt")

    def mapping(order: Order, _: Integration) -> Mapped:
        return mapper(order, entry)

    return ClaimedBatchSync(engine, entry, writer, mapping, business_date)


def sync_stored(engine: sa.Engine, client: XeroClient, entry: ShopifyToXeroEntry,
                start: date, end: date) -> tuple[int, SyncOutcome]:
    """Sync the stored orders of business days [start, end), a chunk at a time; returns
    how many orders were read, and what the sync did."""
    orders = StoredOrders(engine, start, end, kind=orders_kind(entry.shopify.shop))
    outcome = order_sync(engine, client, entry).run(orders)
    return orders.read, outcome


@dataclass(frozen=True)
class BooksRead:
    """A window of the books as Xero states them: its invoices, their credit notes, and
    the organisation's tax rates (TaxType -> Xero's EffectiveRate as a fraction)."""

    invoices: list[dict[str, Any]]
    credit_notes: list[dict[str, Any]]
    tax_rates: dict[str, Decimal]


def _marker(document: dict[str, Any]) -> str | None:
    found = MARKER.search(document.get("Reference") or "")
    return found.group(0) if found else None


def read_books(client: XeroClient, start: date, end: date) -> BooksRead:
    """Every invoice dated in the window (complete, never narrowed by a modification
    time), the credit notes allocated to them or carrying one of their orders' marker
    (read from the window's first day on: a refund never precedes its order), and the
    tax rates."""
    invoices = list(client.invoices(start, end))
    ids = {str(i["InvoiceID"]) for i in invoices}
    markers = {m for m in map(_marker, invoices) if m}
    notes = [n for n in client.credit_notes(start)
             if any(str((a.get("Invoice") or {}).get("InvoiceID")) in ids
                    for a in n.get("Allocations") or []) or _marker(n) in markers]
    rates = {str(r["TaxType"]): Decimal(str(r["EffectiveRate"])) / 100
             for r in client.tax_rates()}
    return BooksRead(invoices, notes, rates)


def _note_days(books: BooksRead) -> dict[str, date]:
    """Each credit note's invoice day (by allocation, else by the order's marker)."""
    day_of = {str(i["InvoiceID"]): parse_xero_date(i.get("Date")) for i in books.invoices}
    by_marker = {_marker(i): parse_xero_date(i.get("Date")) for i in books.invoices}
    days: dict[str, date] = {}
    for note in books.credit_notes:
        held = [day_of.get(str((a.get("Invoice") or {}).get("InvoiceID")))
                for a in note.get("Allocations") or []]
        day = next((d for d in held if d is not None), None) or by_marker.get(_marker(note))
        if day is not None:
            days[str(note["CreditNoteID"])] = day
    return days


def read_back(engine: sa.Engine, client: XeroClient, start: date, end: date,
              run_id: str | None) -> BooksRead:
    """The window's invoices and their credit notes as Xero states them, stored in the
    raw store (the day's invoices and credit notes replaced together)."""
    books = read_books(client, start, end)
    days = _note_days(books)
    with engine.begin() as conn:
        raw.replace_window(conn, invoices_kind(client.tenant_id), start, end,
                           [invoice_record(i) for i in books.invoices], run_id)
        raw.replace_window(conn, credit_notes_kind(client.tenant_id), start, end,
                           [credit_note_record(n, days[str(n["CreditNoteID"])])
                            for n in books.credit_notes
                            if start <= days.get(str(n["CreditNoteID"]), end) < end], run_id)
    return books


@contextmanager
def replay_binding(engine: sa.Engine, entry: Integration
                   ) -> Iterator[tuple[RecordSync[Order, XeroInvoiceDraft], type[Order]]]:
    """The pair's dead-letter replay from the environment (XERO_*): the entry's sync into
    the tenant, and Shopify's order model (`dead-letters replay --integration <pair>`)."""
    client = connect(XeroSettings.from_env(), engine,
                     contracts=ContractGuard(engine, run_id="cli:dead-letters-replay"))
    with client.http:
        yield order_sync(engine, client, as_entry(entry, ShopifyToXeroEntry)), Order


@dataclass(frozen=True)
class Repaired:
    """What a repair of one window found and re-synced."""

    report: WindowReconciliation
    sync: SyncOutcome


def repair_window(engine: sa.Engine, client: XeroClient, entry: ShopifyToXeroEntry,
                  start: date, end: date) -> Repaired:
    """Re-sync the discrepant orders of business days [start, end), read fresh from Xero;
    extra invoices (without an order) are reported, never touched."""
    invoices = list(client.invoices(start, end))
    with engine.connect() as conn:
        report = reconcile(conn, entry, start, end, client.tenant_id, invoices=invoices)
    ids = set(report.source_ids(*RESYNCED))
    outcome = order_sync(engine, client, entry).run(
        StoredOrders(engine, start, end, only=ids, kind=orders_kind(entry.shopify.shop)),
        force=ids)
    return Repaired(report, outcome)
