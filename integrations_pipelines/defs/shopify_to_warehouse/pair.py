"""Shopify orders into the analytics warehouse, on the kit: the worked example of a pair.

Three steps, built into assets, jobs and schedules by the kit's factory:
`shopify/orders` (the shared Shopify step), `shopify_to_warehouse/order_load` (one row
per order, upserted by order id), and `warehouse/orders` (the window's rows reconciled
against what Shopify states; under the repair job the discrepant orders are re-loaded
first). See docs/ADDING_AN_INTEGRATION.md.
"""

from datetime import date, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration, as_entry
from integrations_pipelines.defs.kit import PairSpec, Step, StepReport, StepRun
from integrations_pipelines.defs.kit.accounted import accounted_result
from integrations_pipelines.defs.kit.jobs import repair_job_name
from integrations_pipelines.defs.kit.reconciliation import reconciliation_result, window_run_ids
from integrations_pipelines.defs.resources import WarehouseResource
from integrations_pipelines.defs.sources.shopify_orders import orders_step
from integrations_pipelines.mapping.shopify_to_warehouse_entry import ShopifyToWarehouseEntry
from integrations_pipelines.reconciliation.shopify_to_warehouse import LABELS
from integrations_pipelines.reconciliation.window import WindowReconciliation
from integrations_pipelines.sync.shopify_to_warehouse import load_stored, reconcile, repair_window
from integrations_pipelines.vendors.shopify.records import ORDERS

__all__ = ["ACCOUNTED", "RECONCILED", "pair_spec"]

ACCOUNTED = "every_order_loaded_or_dead_lettered"
RECONCILED = "rows_match_shopify_orders"


def _entry(entry: Integration) -> ShopifyToWarehouseEntry:
    return as_entry(entry, ShopifyToWarehouseEntry)


def load_orders(run: StepRun, check: dg.AssetCheckSpec) -> StepReport:
    entry, window = _entry(run.entry), run.window
    warehouse: WarehouseResource = run.vendor
    stored, outcome = load_stored(run.engine, warehouse.engine(), entry, window.first_day,
                                  window.end_day)  # a chunk at a time
    with run.engine.connect() as conn:
        accounted = accounted_result(conn, ORDERS, entry.name, window, check, "orders")
    return StepReport(metadata={"orders_in_window": stored, "rows_created": outcome.created,
                                "rows_updated": outcome.updated, "rows_voided": outcome.voided,
                                "rows_unchanged": outcome.unchanged,
                                "orders_dead_lettered": outcome.dead_lettered,
                                "orders_skipped_by_policy": outcome.skipped},
                      checks=[accounted])


def read_back_rows(run: StepRun, check: dg.AssetCheckSpec) -> StepReport:
    entry, window, context = _entry(run.entry), run.window, run.context
    warehouse: WarehouseResource = run.vendor
    repaired: dict[str, Any] = {}
    if run.repair:
        done = repair_window(run.engine, warehouse.engine(), entry, window.first_day,
                             window.end_day)
        repaired = {"repair_orders_reloaded": done.sync.processed,
                    **{f"repair_found_{c}": n for c, n in done.report.counts.items()}}
    run_ids = tuple(window_run_ids(context.instance, context.partition_keys, run.run_id))
    with run.engine.connect() as conn:
        report = reconcile(conn, warehouse.engine(), entry, window.first_day, window.end_day,
                           run_ids)
    result = reconciliation_result(report, window, check.name, check.asset_key,
                                   repair_job_name(entry.name))
    return StepReport(metadata={**repaired, "rows": len(report.frames.destination)},
                      checks=[result])


def sample_day(conn: sa.Connection, entry: Integration, day: date,
               warehouse: Any) -> WindowReconciliation:
    resource: WarehouseResource = warehouse
    return reconcile(conn, resource.engine(), _entry(entry), day, day + timedelta(days=1))


def pair_spec(entry: Integration) -> PairSpec:
    """The pair's spec for its catalog entry."""
    load_key = dg.AssetKey([entry.name, "order_load"])
    rows_key = dg.AssetKey(entry.system_key("warehouse", "orders"))
    accounted = dg.AssetCheckSpec(ACCOUNTED, asset=load_key, blocking=True,
                                  description="Each order of the window is loaded at its "
                                  "current version or has an open dead letter.")
    reconciled = dg.AssetCheckSpec(RECONCILED, asset=rows_key, blocking=True,
                                   description="Each order of the window has one row that "
                                   "states what Shopify states now: currency, current total "
                                   "and tax, financial status, cancelled.")
    return PairSpec(
        entry=_entry(entry), labels=LABELS, sample=sample_day,
        extract=orders_step(entry),
        sync=Step(key=load_key, resource="warehouse", group=entry.name,
                  kinds=frozenset({"postgres"}), check_specs=[accounted],
                  description="Upserts one warehouse row per Shopify order, by order id; a "
                  "re-load of an unchanged order writes nothing.",
                  run=lambda run: load_orders(run, accounted)),
        read_back=Step(key=rows_key, resource="warehouse", group="warehouse",
                       kinds=frozenset({"postgres"}), check_specs=[reconciled],
                       description="The window's warehouse rows, reconciled against the "
                       "orders as Shopify states them (repaired first under the repair job).",
                       run=lambda run: read_back_rows(run, reconciled)),
    )
