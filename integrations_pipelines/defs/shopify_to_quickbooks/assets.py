"""The three assets of the flagship integration, daily-partitioned by order creation day.

`shopify/orders`  extracted and validated orders of the window, in the raw store;
`shopify_to_quickbooks/invoice_sync`  the idempotent writes into QuickBooks (the ledger);
`quickbooks/invoices`  the invoices read back from QuickBooks for the same window.
"""


from typing import Any, TypedDict

import dagster as dg

from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.partitions import daily_partitions, run_window
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)
from integrations_pipelines.defs.shopify_to_quickbooks import checks, reconciliation, repair
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import flagship
from integrations_pipelines.state import raw
from integrations_pipelines.sync import extraction
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync, repair_window
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.quickbooks.client import quote
from integrations_pipelines.vendors.quickbooks.records import invoice_record, invoices_kind
from integrations_pipelines.vendors.quickbooks.writer import is_voided
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS as SHOP_ORDERS

__all__ = [
    "CATALOG", "COMMON", "INVOICES_KEY", "NAME", "ORDERS_KEY", "OWNERS", "PARTITIONS", "SYNC_KEY",
    "TAGS", "http_metadata", "invoice_sync", "quickbooks_invoices", "shopify_orders",
]

NAME = "shopify_to_quickbooks"
CATALOG = flagship(NAME)
PARTITIONS = daily_partitions(CATALOG)
OWNERS = [CATALOG.owner, CATALOG.owner_email]
ORDERS_KEY = dg.AssetKey(["shopify", "orders"])
SYNC_KEY = dg.AssetKey([NAME, "invoice_sync"])
INVOICES_KEY = dg.AssetKey(["quickbooks", "invoices"])
TAGS = {"integration": NAME}  # routes the asset's alerts to this integration


class _CommonAssetArgs(TypedDict):
    """The `dg.asset` arguments the three assets share."""

    partitions_def: dg.DailyPartitionsDefinition
    tags: dict[str, str]
    backfill_policy: dg.BackfillPolicy
    owners: list[str]


COMMON: _CommonAssetArgs = {
    "partitions_def": PARTITIONS,
    "tags": TAGS,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "owners": OWNERS,
}
# The assets return the bare `dg.MaterializeResult` (hence `type: ignore[type-arg]`): Dagster
# reads the annotation when it builds the asset and recognises only the class itself; a
# parametrised one would change the outputs it infers.


def http_metadata(metrics: HttpMetrics) -> dict[str, Any]:
    """Numeric HTTP figures so the UI plots retries, 429s and latency over time."""
    return {
        "http_requests": metrics.requests,
        "http_retries": metrics.retries,
        "http_429s": metrics.rate_limited,
        "http_p95_ms": round(metrics.p95_ms(), 1),
        "http_by_endpoint": dg.MetadataValue.json(metrics.summary()),
    }


@dg.asset(
    key=ORDERS_KEY,
    group_name="shopify",
    pool="shopify",  # one pool per vendor (dagster.yaml); its runs share the vendor budget
    kinds={"shopify", "postgres"},
    description=f"Shopify orders created on the partition's day (all statuses), validated "
    f"against the project's Order model and stored in the raw store (`raw_records`, "
    f"shopify/orders). "
    f"Integration: {CATALOG.description}",
    check_specs=[checks.CONTRACT_SPEC, checks.API_VERSION_SPEC],
    **COMMON,
)
def shopify_orders(context: dg.AssetExecutionContext, store: IntegrationStore,
                   shopify: ShopifyResource,
                   ) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster: bare class
    window = run_window(context)
    engine = store.engine()
    metrics = HttpMetrics()
    client = shopify.client(metrics, store, context.run_id, CATALOG.shopify.api_version)
    with vendor_failures(f"extracting Shopify orders {window.label}"), client.http:
        outcome = extraction.store_orders(
            engine, CATALOG, window.first_day, window.end_day,
            client.iter_orders(created_at_min=window.start, created_at_max=window.end),
            context.run_id)
    context.log.info(f"{outcome.extracted} orders extracted for {window.label}, "
                     f"{outcome.dead_lettered} dead-lettered")
    with engine.connect() as conn:
        contract = checks.contract_check(conn, NAME, window, context.run_id)
    return dg.MaterializeResult(
        metadata={
            "orders_extracted": outcome.extracted,
            "orders_valid": outcome.stored,
            "orders_dead_lettered": outcome.dead_lettered,
            "orders_unstorable": outcome.unstorable,
            "window": window.label,
            **http_metadata(metrics),
        },
        check_results=[contract, checks.api_version_check(client, ORDERS_KEY)],
    )


@dg.asset(
    key=SYNC_KEY,
    deps=[ORDERS_KEY],
    pool="quickbooks",
    group_name=NAME,
    kinds={"quickbooks", "postgres"},
    description="Creates, updates or voids one QuickBooks invoice per Shopify order, "
    "idempotently (ledger, requestid, lookup by DocNumber); unmappable orders are "
    "dead-lettered with their reason.",
    check_specs=[checks.ACCOUNTED_SPEC, checks.CONFLICT_SPEC],
    **COMMON,
)
def invoice_sync(context: dg.AssetExecutionContext, store: IntegrationStore,
                 quickbooks: QuickBooksResource,
                 ) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster: bare class
    window = run_window(context)
    engine = store.engine()
    metrics = HttpMetrics()
    with engine.connect() as conn:
        rows = raw.window(conn, SHOP_ORDERS, window.first_day, window.end_day)
    client = quickbooks.client(metrics, store, context.run_id)
    sync = InvoiceSync(engine, client, CATALOG)
    with vendor_failures(f"syncing invoices {window.label}"), client.http:
        outcome = sync.run((Order.model_validate(r.payload), r.payload) for r in rows)
    with engine.connect() as conn:
        accounted = checks.accounted_check(conn, NAME, window)
        conflicts = checks.conflict_check(conn, NAME, window)
    return dg.MaterializeResult(
        metadata={
            "orders_in_window": len(rows),
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
            **http_metadata(metrics),
        },
        check_results=[accounted, conflicts],
    )


@dg.asset(
    key=INVOICES_KEY,
    deps=[SYNC_KEY],
    pool="quickbooks",
    group_name="quickbooks",
    kinds={"quickbooks", "postgres"},
    description="QuickBooks invoices whose TxnDate lies in the partition's day, read back "
    "from QuickBooks into the raw store (`raw_records`, quickbooks/invoices of the "
    "company): what the books really say. Under the repair job (`repair: true`) the "
    "window's discrepancies are repaired first.",
    check_specs=[checks.ONE_INVOICE_SPEC, reconciliation.RECONCILED_SPEC],
    **COMMON,
)
def quickbooks_invoices(context: dg.AssetExecutionContext, config: repair.ReadBackConfig,
                        store: IntegrationStore,
                        quickbooks: QuickBooksResource,
                        ) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster: bare class
    window = run_window(context)
    engine = store.engine()
    metrics = HttpMetrics()
    client = quickbooks.client(metrics, store, context.run_id)
    repaired: dict[str, Any] = {}
    where = (f"TxnDate >= {quote(window.first_day.isoformat())} "
             f"and TxnDate < {quote(window.end_day.isoformat())}")
    with client.http:  # one connection pool for the repair and the read-back after it
        if config.repair:
            with vendor_failures(f"repairing invoices {window.label}"):
                done = repair_window(engine, client, CATALOG, window.first_day, window.end_day)
            context.log.info(repair.repair_summary(window.label, done))
            repaired = repair.repair_metadata(done)
        with vendor_failures(f"reading back invoices {window.label}"):
            invoices = list(client.query("Invoice", where))
    with engine.begin() as conn:
        raw.replace_window(conn, invoices_kind(client.realm_id), window.first_day,
                           window.end_day, [invoice_record(inv) for inv in invoices],
                           context.run_id)
        one_invoice = checks.one_invoice_check(conn, NAME, client.realm_id, window)
        run_ids = reconciliation.window_run_ids(context.instance, context.partition_keys,
                                                context.run_id)
        reconciled = reconciliation.reconciliation_check(conn, CATALOG, client.realm_id,
                                                         window, run_ids)
    voided = sum(1 for inv in invoices if is_voided(inv))
    return dg.MaterializeResult(
        metadata={
            **repaired,
            "invoices_read": len(invoices),
            "invoices_voided": voided,
            "invoices_total_amount": float(sum(float(i["TotalAmt"]) for i in invoices)),
            **http_metadata(metrics),
        },
        check_results=[one_invoice, reconciled],
    )
