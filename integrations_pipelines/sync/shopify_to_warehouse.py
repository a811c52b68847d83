"""The Shopify -> warehouse pair bound to the shared sync engine, and its repair.

The engine plans, skips by ledger hash, guards stale versions, dead-letters and commits
one order at a time; the mapping makes the row; the warehouse's `TableWriter` upserts it.
A window's stored orders are read, validated and loaded a chunk at a time
(`extraction.StoredOrders`), so a run holds one chunk however many days it covers. A
repair re-loads exactly the orders the reconciliation found missing, stale or wrong,
forcing the write (the ledger believes those rows are current).
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.shopify_to_warehouse import OrderRow, map_order, orders_table
from integrations_pipelines.mapping.shopify_to_warehouse_entry import ShopifyToWarehouseEntry
from integrations_pipelines.reconciliation.frames import load_window
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.shopify_to_warehouse import OrdersAgainstRows
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window
from integrations_pipelines.sync.engine import RecordSync, SyncOutcome
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import business_date
from integrations_pipelines.vendors.warehouse.writer import TableWriter

__all__ = ["RESYNCED", "Repaired", "load_stored", "order_load", "reconcile", "repair_window"]

RESYNCED = (Outcome.MISSING, Outcome.STALE, Outcome.WRONG_VALUES)


def order_load(engine: sa.Engine, warehouse: sa.Engine,
               entry: ShopifyToWarehouseEntry) -> RecordSync[Order, OrderRow]:
    """The load of one entry's orders into its warehouse table (created when missing)."""
    writer = TableWriter(warehouse, orders_table(entry))
    writer.ensure()

    def mapping(order: Order, _: Integration) -> OrderRow | MappingRejected | MappingSkipped:
        return map_order(order, entry)

    return RecordSync(engine, entry, writer, mapping, business_date)


def load_stored(engine: sa.Engine, warehouse: sa.Engine, entry: ShopifyToWarehouseEntry,
                start: date, end: date) -> tuple[int, SyncOutcome]:
    """Load the stored orders of business days [start, end), a chunk at a time; returns
    how many orders were read, and what the load did."""
    orders = StoredOrders(engine, start, end)
    outcome = order_load(engine, warehouse, entry).run(orders)
    return orders.read, outcome


def reconcile(conn: sa.Connection, warehouse: sa.Engine, entry: ShopifyToWarehouseEntry,
              start: date, end: date, run_ids: tuple[str, ...] = ()) -> WindowReconciliation:
    """The window's reconciliation: the raw store's orders against the warehouse's rows."""
    with warehouse.connect() as rows:
        sides = OrdersAgainstRows(conn, rows, entry, orders_table(entry), start, end)
        return reconcile_window(load_window(conn, entry.name, sides, start, end, None,
                                            run_ids))


@dataclass(frozen=True)
class Repaired:
    """What a repair of one window found and re-loaded."""

    report: WindowReconciliation
    sync: SyncOutcome


def repair_window(engine: sa.Engine, warehouse: sa.Engine, entry: ShopifyToWarehouseEntry,
                  start: date, end: date) -> Repaired:
    """Re-load the discrepant orders of business days [start, end); extra rows (a row
    without an order) are reported, never deleted."""
    with engine.connect() as conn:
        report = reconcile(conn, warehouse, entry, start, end)
    ids = set(report.source_ids(*RESYNCED))
    outcome = order_load(engine, warehouse, entry).run(
        StoredOrders(engine, start, end, only=ids), force=ids)
    return Repaired(report, outcome)
