"""Reconciliation of the flagship integration: a blocking check on `quickbooks/invoices`.

After every read-back of a window (the nightly job, the repair job, a backfill) the orders'
expected invoices are compared with what QuickBooks holds and every key is classified as
missing, extra, wrong_values, stale, duplicate or ok, with the likely cause of each
discrepancy. Any discrepancy fails the check at ERROR severity, which stops the run and opens
an incident; its metadata (counts per class, drift rate, causes, examples) is plotted per
partition in the UI. Orders with an open dead letter and no invoice are accounted for
(counted as `dead_lettered`), not missing: they already have a reason and a replay path.

The check is evaluated in the read-back's own step, like those of `checks.py`, so it reports
even when another blocking check of that step fails (a deleted invoice also fails
`every_synced_order_has_one_invoice`; this check says which class and why). A separate
`@asset_check` would be skipped after that failure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import ShopifyToQuickBooksEntry
from integrations_pipelines.reconciliation.result import DISCREPANCIES
from integrations_pipelines.reconciliation.shopify_to_quickbooks import load_window
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window

__all__ = [
    "CHECK_NAME", "EXAMPLES", "INVOICES", "KEYS_SHOWN", "PARTITIONS_SEARCHED", "RECONCILED_SPEC",
    "RUNS_PER_PARTITION", "check_result", "reconciliation_check", "window_run_ids",
]

INVOICES = dg.AssetKey(["quickbooks", "invoices"])
CHECK_NAME = "invoices_match_shopify_orders"
EXAMPLES = 10
KEYS_SHOWN = 50
RUNS_PER_PARTITION = 20
PARTITIONS_SEARCHED = 31

RECONCILED_SPEC = dg.AssetCheckSpec(
    CHECK_NAME, asset=INVOICES, blocking=True,
    description="Every order of the window has exactly one invoice in QuickBooks that says "
    "what Shopify says the order is worth now (currency, current total and tax, customer, "
    "cancelled), as QuickBooks computes it (TotalAmt, TotalTax): counts of "
    "missing, extra, wrong_values, stale and duplicate invoices with their likely causes. "
    "Dead-lettered orders without an invoice are accounted for, not missing. Repair with "
    "shopify_to_quickbooks_repair_job.",
)


def window_run_ids(instance: dg.DagsterInstance, partition_keys: Sequence[str],
                   current_run_id: str) -> set[str]:
    """This run and the recent runs of the window's partitions: whose failed vendor calls
    (429s, 401s) explain what is missing."""
    run_ids = {current_run_id}
    for key in list(partition_keys)[:PARTITIONS_SEARCHED]:
        records = instance.get_run_records(
            dg.RunsFilter(tags={"dagster/partition": key}), limit=RUNS_PER_PARTITION)
        run_ids.update(r.dagster_run.run_id for r in records)
    return run_ids


def check_result(report: WindowReconciliation, window: Window) -> dg.AssetCheckResult:
    """The check's verdict and the metadata the UI plots (numbers) and shows (tables)."""
    result = report.result
    causes = report.cause_counts()
    return dg.AssetCheckResult(
        check_name=CHECK_NAME,
        asset_key=INVOICES,
        passed=report.discrepant_count == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if report.discrepant_count == 0 else (
            f"{report.discrepant_count} of {report.frames.source_count} orders' invoices disagree "
            f"with Shopify in {window.label}"),
        metadata={
            **report.counts,
            "discrepancies": report.discrepant_count,
            "drift_rate": float(report.drift_rate),
            "orders": report.frames.source_count,
            "invoices": len(report.frames.destination),
            "window": window.label,
            "examples": dg.MetadataValue.md(report.examples_markdown(EXAMPLES)),
            "causes": dg.MetadataValue.json([
                {"class": str(r["class"]), "cause_code": r["cause_code"], "keys": int(r["keys"])}
                for _, r in causes.iterrows()]),
            "differing_fields": dg.MetadataValue.json(result.field_counts()),
            "discrepant_keys": dg.MetadataValue.json(
                {str(c): report.keys(c)[:KEYS_SHOWN] for c in DISCREPANCIES}),
        },
    )


def reconciliation_check(conn: sa.Connection, integration: ShopifyToQuickBooksEntry, realm_id: str,
                         window: Window, run_ids: Collection[str] = ()) -> dg.AssetCheckResult:
    """Reconcile the window from the raw tables the read-back just wrote."""
    report = reconcile_window(load_window(conn, integration, window.first_day,
                                          window.end_day, realm_id, run_ids=run_ids))
    return check_result(report, window)
