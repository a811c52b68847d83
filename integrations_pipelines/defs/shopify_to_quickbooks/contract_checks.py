"""Drift warnings: the vendors sent fields our models do not know.

A new field is not an error (the payload still validated), but it is how contract changes
begin: a field that replaces another, an object that will soon replace a string. Each
extraction records such fields in `contract_observations` (`vendors/contracts.py`); these
checks read what the current run saw and warn (WARN severity, so the run stays green and
the alerting sensor posts a warning), naming every new field, its model and a sample.

They are separate asset checks, not part of the assets' own results, because drift is a
property of the vendor's schema, not of a day: one evaluation per run, not per partition.
The QuickBooks check sits on `quickbooks/invoices`, the last step of the job, so it sees
what both the sync's writes and the read-back received.
"""


import dagster as dg

from integrations_pipelines.defs.resources import IntegrationStore
from integrations_pipelines.defs.shopify_to_quickbooks.checks import INVOICES, ORDERS
from integrations_pipelines.vendors.contracts import UNKNOWN_FIELD, observations

__all__ = [
    "CHECK_NAME", "CONTRACT_CHECKS", "EXAMPLES", "drift_result",
    "quickbooks_invoices_no_contract_drift", "shopify_orders_no_contract_drift",
]

CHECK_NAME = "no_contract_drift"
EXAMPLES = 20


def drift_result(store: IntegrationStore, vendor: str, asset: dg.AssetKey,
                 run_id: str) -> dg.AssetCheckResult:
    """WARN when this run recorded fields of `vendor` that no model or known list names."""
    with store.engine().connect() as conn:
        rows = list(observations(conn, vendor=vendor, kind=UNKNOWN_FIELD, run_id=run_id))
    return dg.AssetCheckResult(
        check_name=CHECK_NAME, asset_key=asset, passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{vendor} sent {len(rows)} field(s) our models do not know: "
                     + ", ".join(f"{r.model}.{r.field_path}" for r in rows[:EXAMPLES])
                     if rows else f"every {vendor} field is known to our models"),
        metadata={
            "unknown_fields": len(rows),
            "fields": dg.MetadataValue.json([
                {"model": r.model, "field": r.field_path, "detail": r.detail,
                 "first_seen_at": r.first_seen_at.isoformat(), "occurrences": r.occurrences,
                 "observation_id": r.id}
                for r in rows[:EXAMPLES]]),
        },
    )


@dg.asset_check(
    asset=ORDERS, name=CHECK_NAME,
    description="Shopify orders carried no field that the Order model and its list of known "
    "Shopify fields lack (new fields are drift: add them to the model or its known list).",
)
def shopify_orders_no_contract_drift(context: dg.AssetCheckExecutionContext,
                                     store: IntegrationStore) -> dg.AssetCheckResult:
    return drift_result(store, "shopify", ORDERS, context.run.run_id)


@dg.asset_check(
    asset=INVOICES, name=CHECK_NAME,
    description="QuickBooks answers (writes and read-back) carried no field that the "
    "Invoice and Customer models and their lists of known fields lack.",
)
def quickbooks_invoices_no_contract_drift(context: dg.AssetCheckExecutionContext,
                                          store: IntegrationStore) -> dg.AssetCheckResult:
    return drift_result(store, "quickbooks", INVOICES, context.run.run_id)


CONTRACT_CHECKS = [shopify_orders_no_contract_drift, quickbooks_invoices_no_contract_drift]
