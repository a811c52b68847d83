"""Repair of the flagship integration: re-sync exactly the discrepant invoices of a window.

`shopify_to_quickbooks_repair_job` (a partition or a range, launched from the UI) runs
`shopify_to_quickbooks/invoice_repair`, then reads the window back (`quickbooks/invoices`)
and re-runs its checks, so the run itself proves the repair. The repair reads the window's
invoices fresh from QuickBooks, reconciles them with the last extracted orders, and:
- missing, stale and wrong_values: re-syncs those orders through `InvoiceSync.run`, the same
  idempotent path as the nightly sync, forcing the write for their ids (the ledger believes a
  deleted or hand-edited invoice is current, so its unchanged-skip must not apply);
- duplicate: under the catalog's `duplicate_policy: void_duplicates`, voids every record but
  the ledger's (else the oldest) and re-syncs the order onto the one kept; under
  `report_only` (the default) nothing is touched;
- extra: reported only. An invoice without an order may be a person's deliberate document;
  nothing is voided or deleted without a policy saying so.
A renumbered invoice (missing + extra) is repaired through its order: the sync finds it by
the ledger's id and writes its DocNumber back.
"""


import dagster as dg

from integrations_pipelines.catalog import integration
from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.partitions import Window, run_window
from integrations_pipelines.defs.resources import IntegrationStore, QuickBooksResource
from integrations_pipelines.defs.shopify_to_quickbooks.assets import (
    CATALOG,
    COMMON,
    INVOICES_KEY,
    NAME,
    PARTITIONS,
    REPAIR_KEY,
    SYNC_KEY,
    http_metadata,
)
from integrations_pipelines.reconciliation.frames import load_window
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window
from integrations_pipelines.state import raw
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync, request_id
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, quote
from integrations_pipelines.vendors.shopify.models import Order

VOID_DUPLICATES = "void_duplicates"
RESYNCED = (Outcome.MISSING, Outcome.STALE, Outcome.WRONG_VALUES)
KEYS_SHOWN = 100


def _in_window(window: Window) -> str:
    return (f"TxnDate >= {quote(window.first_day.isoformat())} "
            f"and TxnDate < {quote(window.end_day.isoformat())}")


def void_duplicates(client: QuickBooksClient, report: WindowReconciliation) -> list[str]:
    """Void every live record of a duplicated key except the one kept; their ids."""
    records = report.duplicate_records()
    surplus = records[~records["keep"] & ~records["voided"]]
    for row in surplus.itertuples(index=False):
        client.void_invoice(row.destination_id, row.sync_token,
                            request_id("void-duplicate", row.destination_id, row.sync_token))
    return surplus["destination_id"].tolist()


@dg.asset(
    key=REPAIR_KEY,
    deps=[SYNC_KEY],
    pool="quickbooks",
    group_name=NAME,
    kinds={"quickbooks", "postgres"},
    description="Re-syncs exactly the orders whose invoices reconciliation found missing, "
    "stale or wrong (forcing the write past the ledger), voids duplicates only under the "
    "catalog's `duplicate_policy: void_duplicates`, and reports extras; never deletes.",
    **COMMON,
)
def invoice_repair(context: dg.AssetExecutionContext, store: IntegrationStore,
                   quickbooks: QuickBooksResource) -> dg.MaterializeResult:
    window = run_window(context)
    engine = store.engine()
    metrics = HttpMetrics()
    policy = integration(NAME).duplicate_policy
    client = quickbooks.client(metrics, store, context.run_id)
    with vendor_failures(f"repairing invoices {window.label}"), client.http:
        invoices = list(client.query("Invoice", _in_window(window)))
        with engine.connect() as conn:
            report = reconcile_window(load_window(conn, CATALOG, window.first_day,
                                                  window.end_day, client.realm_id,
                                                  invoices=invoices))
        voided = void_duplicates(client, report) if policy == VOID_DUPLICATES else []
        classes = (*RESYNCED, Outcome.DUPLICATE) if policy == VOID_DUPLICATES else RESYNCED
        order_ids = set(report.order_ids(*classes))
        with engine.connect() as conn:
            rows = [r for r in raw.shopify_orders(conn, window.first_day, window.end_day)
                    if str(r.order_id) in order_ids]
        outcome = InvoiceSync(engine, client, CATALOG).run(
            ((Order.model_validate(r.payload), r.payload) for r in rows), force=order_ids)
    found = report.counts
    context.log.info(
        f"repair {window.label}: found {found}; re-synced {len(rows)} orders "
        f"({outcome.created} created, {outcome.updated} updated, {outcome.voided} voided, "
        f"{outcome.dead_lettered} dead-lettered); {len(voided)} duplicates voided "
        f"(policy {policy})")
    duplicates = report.keys(Outcome.DUPLICATE)
    return dg.MaterializeResult(metadata={
        **{f"found_{c}": n for c, n in found.items()},
        "orders_resynced": len(rows),
        "invoices_created": outcome.created,
        "invoices_updated": outcome.updated,
        "invoices_voided": outcome.voided,
        "invoices_unchanged": outcome.unchanged,
        "orders_dead_lettered": outcome.dead_lettered,
        "duplicates_voided": len(voided),
        "duplicates_reported": 0 if policy == VOID_DUPLICATES else len(duplicates),
        "extra_reported": found[Outcome.EXTRA],
        "duplicate_policy": policy,
        "window": window.label,
        "resynced_keys": dg.MetadataValue.json(report.keys(*classes)[:KEYS_SHOWN]),
        "voided_invoice_ids": dg.MetadataValue.json(voided[:KEYS_SHOWN]),
        "extra_keys": dg.MetadataValue.json(report.keys(Outcome.EXTRA)[:KEYS_SHOWN]),
        **http_metadata(metrics),
    })


shopify_to_quickbooks_repair_job = dg.define_asset_job(
    f"{NAME}_repair_job",
    selection=dg.AssetSelection.assets(REPAIR_KEY, INVOICES_KEY),
    partitions_def=PARTITIONS,
    description="Re-sync exactly the discrepant invoices of a partition (or a range), then "
    "read the window back and re-run its checks: the run passes when nothing is left.",
    tags={"integration": NAME},
)
