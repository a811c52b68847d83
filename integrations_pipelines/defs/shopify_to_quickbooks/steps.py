"""The flagship's three steps on the kit: what each asset of Shopify -> QuickBooks does.

`shopify/orders`  extracted and validated orders of the window, in the raw store (the
                 shared Shopify step, `defs/sources/shopify_orders.py`);
`shopify_to_quickbooks/invoice_sync`  the idempotent writes into QuickBooks (the ledger);
`quickbooks/invoices`  the invoices read back from QuickBooks for the same window (after
the window's repair, under the repair job).

Each step builds its vendor's client, calls the shared engines and the pair's binding, and
returns its figures and check results; the kit's factory (`defs/kit/`) makes them assets,
jobs and schedules.
"""

from typing import Any

import dagster as dg

from integrations_pipelines.catalog import Integration, as_entry
from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit.jobs import repair_job_name
from integrations_pipelines.defs.kit.reconciliation import reconciliation_result, window_run_ids
from integrations_pipelines.defs.kit.spec import Step, StepReport, StepRun
from integrations_pipelines.defs.partitions import daily_partitions
from integrations_pipelines.defs.resources import QuickBooksResource
from integrations_pipelines.defs.shopify_to_quickbooks import checks, repair
from integrations_pipelines.defs.sources.shopify_orders import orders_step
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import (
    ShopifyToQuickBooksEntry,
    flagship,
)
from integrations_pipelines.reconciliation.shopify_to_quickbooks import load_window
from integrations_pipelines.reconciliation.window import reconcile_window
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.invoice_read_back import read_back_window
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync, repair_window

__all__ = ["CATALOG", "EXTRACT", "INVOICES_KEY", "NAME", "ORDERS_KEY", "OWNERS", "PARTITIONS",
           "READ_BACK", "RECONCILED_CHECK", "RECONCILED_SPEC", "SYNC", "SYNC_KEY", "TAGS",
           "pair_entry"]

NAME = "shopify_to_quickbooks"
CATALOG = flagship(NAME)
PARTITIONS = daily_partitions(CATALOG)
ORDERS_KEY = checks.ORDERS
SYNC_KEY = checks.SYNC
INVOICES_KEY = checks.INVOICES
OWNERS = [CATALOG.owner, CATALOG.owner_email]  # of the pair's own (non-kit) assets
TAGS = {"integration": NAME}  # routes those assets' alerts to this integration
RECONCILED_CHECK = "invoices_match_shopify_orders"
RECONCILED_SPEC = dg.AssetCheckSpec(
    RECONCILED_CHECK, asset=INVOICES_KEY, blocking=True,
    description="Every order of the window has exactly one invoice in QuickBooks that says "
    "what Shopify says the order is worth now (currency, current total and tax, customer, "
    "cancelled), as QuickBooks computes it (TotalAmt, TotalTax): counts of "
    "missing, extra, wrong_values, stale and duplicate invoices with their likely causes. "
    "Dead-lettered orders without an invoice are accounted for, not missing. Repair with "
    "shopify_to_quickbooks_repair_job.",
)


def pair_entry(entry: Integration) -> ShopifyToQuickBooksEntry:
    """The entry with the pair's own options (the catalog loads it as this model)."""
    return as_entry(entry, ShopifyToQuickBooksEntry)


def sync_invoices(run: StepRun) -> StepReport:
    """One invoice per stored order of the window, created, updated or voided."""
    entry, window = pair_entry(run.entry), run.window
    quickbooks: QuickBooksResource = run.vendor
    # Read, validated and synced a chunk at a time: the run holds one chunk of orders.
    orders = StoredOrders(run.engine, window.first_day, window.end_day)
    client = quickbooks.client(run.metrics, run.store, run.run_id)
    sync = InvoiceSync(run.engine, client, entry)
    with vendor_failures(f"syncing invoices {window.label}"), client.http:
        outcome = sync.run(orders)
    with run.engine.connect() as conn:
        accounted = checks.accounted_check(conn, entry.name, window)
        conflicts = checks.conflict_check(conn, entry.name, window)
    return StepReport(
        metadata={
            "orders_in_window": orders.read,
            "invoices_created": outcome.created,
            "invoices_updated": outcome.updated,
            "invoices_voided": outcome.voided,
            "invoices_unchanged": outcome.unchanged,
            "stale_versions_skipped": outcome.stale_skipped,
            "orders_dead_lettered": outcome.dead_lettered,
            "orders_skipped_by_policy": outcome.skipped,
            "destination_conflicts": outcome.conflicts,
            "invoices_adopted": outcome.adopted,
            "duplicates_seen": outcome.duplicates_seen,
            "dead_letter_reasons": dg.MetadataValue.json(dict(outcome.dead_letter_reasons)),
            "skip_reasons": dg.MetadataValue.json(dict(outcome.skip_reasons)),
            "token_refreshes": client.tokens.refreshes if client.tokens else 0,
        },
        checks=[accounted, conflicts])


def read_back_invoices(run: StepRun) -> StepReport:
    """The window's invoices as QuickBooks holds them (repaired first under the repair
    job), into the raw store a page at a time; then the one-invoice and reconciliation
    checks."""
    entry, window, context = pair_entry(run.entry), run.window, run.context
    quickbooks: QuickBooksResource = run.vendor
    client = quickbooks.client(run.metrics, run.store, run.run_id)
    repaired: dict[str, Any] = {}
    log = None
    with client.http:  # one connection pool for the repair and the read-back after it
        if run.repair:
            with vendor_failures(f"repairing invoices {window.label}"):
                done = repair_window(run.engine, client, entry, window.first_day,
                                     window.end_day, run.run_id)
            log = repair.repair_summary(window.label, done)
            repaired = repair.repair_metadata(done)
        with vendor_failures(f"reading back invoices {window.label}"):
            read = read_back_window(run.engine, client, window.first_day, window.end_day,
                                    run.run_id)
    with run.engine.connect() as conn:
        one_invoice = checks.one_invoice_check(conn, entry.name, client.realm_id, window)
        run_ids = window_run_ids(context.instance, context.partition_keys, run.run_id)
        report = reconcile_window(load_window(conn, entry, window.first_day, window.end_day,
                                              client.realm_id, run_ids=run_ids))
    reconciled = reconciliation_result(report, window, RECONCILED_CHECK, INVOICES_KEY,
                                       repair_job_name(entry.name))
    return StepReport(
        metadata={
            **repaired,
            "invoices_read": read.read,
            "invoices_voided": read.voided,
            "invoices_total_amount": float(read.total_amount),
        },
        checks=[one_invoice, reconciled], log=log)


EXTRACT = orders_step(CATALOG)
SYNC = Step(
    key=SYNC_KEY, resource="quickbooks", group=NAME,
    kinds=frozenset({"quickbooks", "postgres"}),
    description="Creates, updates or voids one QuickBooks invoice per Shopify order, "
    "idempotently (ledger, requestid, lookup by DocNumber); unmappable orders are "
    "dead-lettered with their reason.",
    run=sync_invoices, check_specs=[checks.ACCOUNTED_SPEC, checks.CONFLICT_SPEC],
)
READ_BACK = Step(
    key=INVOICES_KEY, resource="quickbooks", group="quickbooks",
    kinds=frozenset({"quickbooks", "postgres"}),
    description="QuickBooks invoices whose TxnDate lies in the partition's day, read back "
    "from QuickBooks into the raw store (`raw_records`, quickbooks/invoices of the "
    "company): what the books really say. Under the repair job (`repair: true`) the "
    "window's discrepancies are repaired first.",
    run=read_back_invoices, check_specs=[checks.ONE_INVOICE_SPEC, RECONCILED_SPEC],
)
