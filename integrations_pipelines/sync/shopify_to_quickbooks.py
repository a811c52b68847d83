"""The Shopify -> QuickBooks pair bound to the shared sync engine.

The engine (`sync/engine.py`) plans the window, skips by ledger hash, guards against stale
versions, dead-letters and commits one order at a time; the pair's mapping
(`mapping/shopify_to_quickbooks.py`) turns an order into an invoice draft; QuickBooks'
writer (`vendors/quickbooks/writer.py`) finds, creates, updates or voids the invoice. This
module wires the three together with the catalog entry's options, and repairs a window
through that same path (`repair_window`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration, as_entry
from integrations_pipelines.mapping.shopify_to_quickbooks import (
    ORDER_MARKER,
    business_date,
    map_order,
)
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import ShopifyToQuickBooksEntry
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.shopify_to_quickbooks import load_window
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window
from integrations_pipelines.sync.concurrent_sync import ConcurrentRecordSync
from integrations_pipelines.sync.engine import SKIPPED, RecordSync, SyncOutcome
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.invoice_read_back import read_back_window
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient
from integrations_pipelines.vendors.quickbooks.drafts import InvoiceDraft
from integrations_pipelines.vendors.quickbooks.writer import (
    CONCURRENT_WRITES,
    InvoiceWriter,
    request_id,
)
from integrations_pipelines.vendors.shopify.models import Order

__all__ = ["SKIPPED", "VOID_DUPLICATES", "InvoiceSync", "Mapper", "RepairOutcome",
           "SyncOutcome", "repair_window", "replay_binding", "request_id",
           "void_duplicates"]

Draft = InvoiceDraft | MappingRejected | MappingSkipped
Mapper = Callable[[Order, ShopifyToQuickBooksEntry], Draft]


def InvoiceSync(engine: sa.Engine, qbo: QuickBooksClient, integration: ShopifyToQuickBooksEntry,
                mapper: Mapper = map_order) -> RecordSync[Order, InvoiceDraft]:
    """The sync of one integration's orders into one QuickBooks company, through the pair's
    mapping (`map_order` unless a test gives another)."""
    writer = InvoiceWriter(qbo, owner_marker=ORDER_MARKER, source_label="Shopify order",
                           adopt_existing=integration.quickbooks.existing_invoices == "adopt")

    def mapping(order: Order, _: Integration) -> Draft:
        return mapper(order, integration)  # the pair's mapping reads the pair's own options

    return ConcurrentRecordSync(engine, integration, writer, mapping, business_date,
                                concurrency=CONCURRENT_WRITES)


VOID_DUPLICATES = "void_duplicates"
RESYNCED = (Outcome.MISSING, Outcome.STALE, Outcome.WRONG_VALUES)


@dataclass(frozen=True)
class RepairOutcome:
    """What a repair of one window found and did."""

    report: WindowReconciliation
    policy: str
    resynced: int
    sync: SyncOutcome
    voided: list[str]
    classes: tuple[Outcome, ...]


def void_duplicates(client: QuickBooksClient, report: WindowReconciliation) -> list[str]:
    """Void every live record of a duplicated key except the one kept; their ids."""
    records = report.duplicate_records()
    surplus = records[~records["keep"] & ~records["voided"]]
    for row in surplus.itertuples(index=False):
        client.void_invoice(str(row.destination_id), str(row.sync_token),
                            request_id("void-duplicate", str(row.destination_id),
                                       str(row.sync_token)))
    return [str(x) for x in surplus["destination_id"].tolist()]


def repair_window(engine: sa.Engine, client: QuickBooksClient,
                  integration: ShopifyToQuickBooksEntry, start: date,
                  end: date, run_id: str | None = None) -> RepairOutcome:
    """Re-sync exactly the discrepant invoices of business days [start, end).

    The window's invoices are read fresh from QuickBooks into the raw store (a page at a
    time, `read_back_window`) and reconciled with the last extracted orders. Missing, stale
    and wrong_values: those orders are re-synced through the same idempotent path as the
    nightly sync (read from the store a chunk at a time), forcing the write for their ids
    (the ledger believes a deleted or hand-edited invoice is current, so its unchanged-skip
    must not apply). Duplicate: under `duplicate_policy: void_duplicates`, every record but
    the ledger's (else the oldest) is voided and the order re-synced onto the one kept;
    under `report_only` (the default) nothing is touched. Extra: reported only (an invoice
    without an order may be a person's deliberate document). A renumbered invoice (missing
    + extra) is repaired through its order: the sync finds it by the ledger's id.
    """
    policy = integration.duplicate_policy
    read_back_window(engine, client, start, end, run_id)
    with engine.connect() as conn:
        report = reconcile_window(load_window(conn, integration, start, end, client.realm_id))
    voided = void_duplicates(client, report) if policy == VOID_DUPLICATES else []
    classes = (*RESYNCED, Outcome.DUPLICATE) if policy == VOID_DUPLICATES else RESYNCED
    order_ids = set(report.source_ids(*classes))
    orders = StoredOrders(engine, start, end, only=order_ids)
    outcome = InvoiceSync(engine, client, integration).run(orders, force=order_ids)
    return RepairOutcome(report, policy, orders.read, outcome, voided, classes)


@contextmanager
def replay_binding(engine: sa.Engine, entry: Integration
                   ) -> Iterator[tuple[RecordSync[Order, InvoiceDraft], type[Order]]]:
    """The pair's dead-letter replay from the environment (QBO_*): the entry's invoice sync
    into the company, and Shopify's order model (`dead-letters replay`)."""
    from integrations_pipelines.settings import QuickBooksSettings
    from integrations_pipelines.vendors.contracts import ContractGuard
    from integrations_pipelines.vendors.quickbooks.client import connect, realm_budget

    conf = QuickBooksSettings.from_env()
    client = connect(conf, engine, budget=realm_budget(engine, conf.realm_id),
                     contracts=ContractGuard(engine, run_id="cli:dead-letters-replay"))
    with client.http:
        yield InvoiceSync(engine, client, as_entry(entry, ShopifyToQuickBooksEntry)), Order
