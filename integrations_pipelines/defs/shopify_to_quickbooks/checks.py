"""Blocking checks of the flagship integration, evaluated in the same step as each asset.

Each one states a promise of the project as a predicate over the window: every order ended
synced or dead-lettered (nothing pending); every synced order has exactly one invoice in
QuickBooks. (The orders' own checks are the shared Shopify step's,
`defs/sources/shopify_orders.py`.) The raw store's queries are in
`state/raw.py` and `state/accounted.py`.
"""

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.defs.kit.accounted import accounted_result
from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.defs.sources.shopify_orders import ORDERS_KEY
from integrations_pipelines.state import accounted, raw
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.sync.shopify_to_quickbooks import SKIPPED
from integrations_pipelines.vendors.quickbooks.records import VOIDED, invoices_kind
from integrations_pipelines.vendors.shopify.records import ORDERS as SHOP_ORDERS

__all__ = [
    "ACCOUNTED_SPEC", "CONFLICT_SPEC", "EXAMPLES", "INVOICES", "ONE_INVOICE_SPEC", "ORDERS", "SYNC",
    "accounted_check", "conflict_check", "one_invoice_check",
]

ORDERS = ORDERS_KEY
SYNC = dg.AssetKey(["shopify_to_quickbooks", "invoice_sync"])
INVOICES = dg.AssetKey(["quickbooks", "invoices"])
EXAMPLES = 10

ACCOUNTED_SPEC = dg.AssetCheckSpec(
    "every_order_synced_or_dead_lettered", asset=SYNC, blocking=True,
    description="No order is silently lost: each one in the window is in the ledger at its "
    "current version or has an open dead letter with a reason. A pending order fails it at "
    "ERROR, which fails the run once the read-back's checks have reported.",
)
CONFLICT_SPEC = dg.AssetCheckSpec(
    "doc_numbers_free_of_foreign_invoices", asset=SYNC,
    description="No order of the window found its DocNumber taken by an invoice this "
    "integration did not write (no shopify:order marker). Such an invoice is never "
    "overwritten: the order is dead-lettered as destination_conflict, naming both sides.",
)
ONE_INVOICE_SPEC = dg.AssetCheckSpec(
    "every_synced_order_has_one_invoice", asset=INVOICES, blocking=True,
    description="Each order the ledger says is synced has its invoice in QuickBooks, and no "
    "DocNumber appears twice among live (not voided) invoices.",
)


def accounted_check(conn: sa.Connection, integration: str, window: Window) -> dg.AssetCheckResult:
    return accounted_result(conn, SHOP_ORDERS, integration, window, ACCOUNTED_SPEC, "orders")


def conflict_check(conn: sa.Connection, integration: str, window: Window) -> dg.AssetCheckResult:
    """WARN on open destination conflicts: a person must decide whose invoice it is."""
    rows = [r for r in dead_letters.open_letters(conn, integration, start=window.first_day,
                                                 end=window.end_day)
            if r.reason_code == "destination_conflict"]
    return dg.AssetCheckResult(
        check_name=CONFLICT_SPEC.name, asset_key=SYNC, passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(rows)} order(s) found their DocNumber taken by an invoice we did "
                     f"not write; first: {rows[0].reason}"[:1500]) if rows else None,
        metadata={"conflicts": len(rows),
                  "examples": dg.MetadataValue.json(
                      [{"order": r.source_id, "reason": r.reason} for r in rows[:EXAMPLES]])},
    )


def one_invoice_check(conn: sa.Connection, integration: str, realm_id: str,
                      window: Window) -> dg.AssetCheckResult:
    invoices = invoices_kind(realm_id)
    missing = accounted.ledger_without_destination(conn, integration, invoices,
                                                   window.first_day, window.end_day,
                                                   skipped_status=SKIPPED)
    duplicated = raw.duplicated_external_keys(  # a voided copy is a settled duplicate
        conn, invoices, window.first_day, window.end_day, unless_fact=VOIDED)
    return dg.AssetCheckResult(
        check_name=ONE_INVOICE_SPEC.name, asset_key=INVOICES,
        passed=not missing and not duplicated, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"missing_invoices": len(missing), "duplicated_doc_numbers": len(duplicated),
                  "examples": dg.MetadataValue.json(
                      [f"missing {doc_number} (order {source_id})"
                       for source_id, doc_number in missing[:EXAMPLES]]
                      + [f"{d[0]} appears {d[1]} times" for d in duplicated[:EXAMPLES]])},
    )

