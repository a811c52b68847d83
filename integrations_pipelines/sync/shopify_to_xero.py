"""The Shopify -> Xero pair bound to the shared sync engine, its read-back and its repair.

The engine plans a chunk, skips by ledger hash, guards stale versions, dead-letters and
commits one order at a time under its advisory lock; the mapping makes the order's Xero
documents; Xero's `DocumentWriter` creates the chunk's new invoices 50 per request and then,
order by order, its credit notes, payment or void. The read-back stores the window's
invoices as Xero states them in the raw store (`xero/invoices` of the tenant); a repair
re-syncs exactly the orders the reconciliation found missing, stale or wrong, forcing the
write (the ledger believes those documents are current).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.shopify_to_xero import ORDER_MARKER, map_order
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.shopify_to_xero import reconcile
from integrations_pipelines.reconciliation.window import WindowReconciliation
from integrations_pipelines.state import raw
from integrations_pipelines.sync.engine import RecordSync, SyncOutcome
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import business_date
from integrations_pipelines.vendors.xero.client import XeroClient
from integrations_pipelines.vendors.xero.drafts import XeroInvoiceDraft
from integrations_pipelines.vendors.xero.records import invoice_record, invoices_kind
from integrations_pipelines.vendors.xero.writer import DocumentWriter

__all__ = ["RESYNCED", "Repaired", "order_sync", "read_back", "repair_window", "sync_stored"]

RESYNCED = (Outcome.MISSING, Outcome.STALE, Outcome.WRONG_VALUES)
Mapped = XeroInvoiceDraft | MappingRejected | MappingSkipped
Mapper = Callable[[Order, ShopifyToXeroEntry], Mapped]


def order_sync(engine: sa.Engine, client: XeroClient, entry: ShopifyToXeroEntry,
               mapper: Mapper = map_order) -> RecordSync[Order, XeroInvoiceDraft]:
    """The sync of one entry's orders into one Xero organisation."""
    writer = DocumentWriter(client, owner_marker=ORDER_MARKER, source_label="Shopify order",
                            adopt_existing=entry.xero.existing_invoices == "adopt")

    def mapping(order: Order, _: Integration) -> Mapped:
        return mapper(order, entry)

    return RecordSync(engine, entry, writer, mapping, business_date)


def sync_stored(engine: sa.Engine, client: XeroClient, entry: ShopifyToXeroEntry,
                start: date, end: date) -> tuple[int, SyncOutcome]:
    """Sync the stored orders of business days [start, end), a chunk at a time; returns
    how many orders were read, and what the sync did."""
    orders = StoredOrders(engine, start, end)
    outcome = order_sync(engine, client, entry).run(orders)
    return orders.read, outcome


def read_back(engine: sa.Engine, client: XeroClient, start: date, end: date,
              run_id: str | None) -> list[dict[str, Any]]:
    """The window's invoices as Xero states them, stored in the raw store."""
    invoices = list(client.invoices(start, end))
    with engine.begin() as conn:
        raw.replace_window(conn, invoices_kind(client.tenant_id), start, end,
                           [invoice_record(i) for i in invoices], run_id)
    return invoices


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
        StoredOrders(engine, start, end, only=ids), force=ids)
    return Repaired(report, outcome)
