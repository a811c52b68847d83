"""Blocking checks of the flagship integration, evaluated in the same step as each asset.

Each one states a promise of the project as a predicate over the window: every extracted
order matches our contract; every order ended synced or dead-lettered (nothing pending);
every synced order has exactly one invoice in QuickBooks. The raw store's queries are in
`state/raw.py` and `state/accounted.py`.
"""

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.state import accounted, raw
from integrations_pipelines.state.tables import dead_letters
from integrations_pipelines.sync.shopify_to_quickbooks import SKIPPED
from integrations_pipelines.vendors.contracts import VIOLATION, observations
from integrations_pipelines.vendors.quickbooks.records import VOIDED, invoices_kind
from integrations_pipelines.vendors.shopify.client import ShopifyClient
from integrations_pipelines.vendors.shopify.records import ORDERS as SHOP_ORDERS

__all__ = [
    "ACCOUNTED_SPEC", "API_VERSION_SPEC", "CONFLICT_SPEC", "CONTRACT_SPEC", "EXAMPLES", "INVOICES",
    "ONE_INVOICE_SPEC", "ORDERS", "SYNC", "accounted_check", "api_version_check", "conflict_check",
    "contract_check", "one_invoice_check",
]

ORDERS = dg.AssetKey(["shopify", "orders"])
SYNC = dg.AssetKey(["shopify_to_quickbooks", "invoice_sync"])
INVOICES = dg.AssetKey(["quickbooks", "invoices"])
EXAMPLES = 10

CONTRACT_SPEC = dg.AssetCheckSpec(
    "orders_conform_to_contract", asset=ORDERS, blocking=True,
    description="Every order Shopify returned for the window validated against our model "
    "and could be stored; the others are dead-lettered with the error and their payload. "
    "A few such orders warn and the rest of the window syncs; when every order of the window "
    "fails (a vendor contract change), the check fails at ERROR and stops the run.",
)
API_VERSION_SPEC = dg.AssetCheckSpec(
    "shopify_api_version_is_current", asset=ORDERS,
    description="Shopify served every call in the catalog's API version and flagged none "
    "as deprecated (X-Shopify-API-Version, X-Shopify-API-Deprecated-Reason). Shopify serves "
    "a retired version silently as the oldest supported one: this warns before that day.",
)
ACCOUNTED_SPEC = dg.AssetCheckSpec(
    "every_order_synced_or_dead_lettered", asset=SYNC, blocking=True,
    description="No order is silently lost: each one in the window is in the ledger at its "
    "current version or has an open dead letter with a reason.",
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


def contract_check(conn: sa.Connection, integration: str, window: Window,
                   run_id: str | None = None) -> dg.AssetCheckResult:
    rows = conn.execute(
        sa.select(dead_letters.c.source_id, dead_letters.c.reason)
        .where(dead_letters.c.integration == integration, dead_letters.c.stage == "validate",
               dead_letters.c.resolved_at.is_(None),
               dead_letters.c.business_date >= window.first_day,
               dead_letters.c.business_date < window.end_day)
    ).all()
    stored = raw.count_window(conn, SHOP_ORDERS, window.first_day, window.end_day)
    # Isolated bad orders must not hold back the good ones (WARN); a window where nothing
    # validated is a contract change, and there is nothing valid to hold back (ERROR).
    everything_broke = bool(rows) and stored == 0
    seen = list(observations(conn, vendor="shopify", kind=VIOLATION, run_id=run_id)
                ) if rows and run_id else []
    changed = "; ".join(f"Order.{o.field_path} ({o.detail}, {o.occurrences} seen; payload "
                        f"captured in contract_observations id {o.id})" for o in seen[:5])
    return dg.AssetCheckResult(
        check_name=CONTRACT_SPEC.name, asset_key=ORDERS, passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR if everything_broke
        else dg.AssetCheckSeverity.WARN,
        description=None if not rows else (
            ("every order of the window failed validation: vendor contract changed. "
             if everything_broke else "")
            + f"{len(rows)} order(s) dead-lettered at validation, {stored} stored"
            + (f"; {changed}" if changed else "")),
        metadata={"contract_violations": len(rows), "orders_stored": stored,
                  "examples": dg.MetadataValue.json(
                      [{"id": r.source_id, "reason": r.reason[:300]} for r in rows[:EXAMPLES]])},
    )


def accounted_check(conn: sa.Connection, integration: str, window: Window) -> dg.AssetCheckResult:
    found = accounted.settled_in_window(conn, SHOP_ORDERS, integration, window.first_day,
                                        window.end_day, skipped_status=SKIPPED)
    pending = found.pending
    return dg.AssetCheckResult(
        check_name=ACCOUNTED_SPEC.name, asset_key=SYNC, passed=not pending,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"orders": found.records, "synced": found.settled - found.skipped,
                  "skipped_by_policy": found.skipped, "dead_lettered": found.dead_lettered,
                  "pending": len(pending),
                  "pending_examples": dg.MetadataValue.json(pending[:EXAMPLES])},
    )


def conflict_check(conn: sa.Connection, integration: str, window: Window) -> dg.AssetCheckResult:
    """WARN on open destination conflicts: a person must decide whose invoice it is."""
    rows = conn.execute(
        sa.select(dead_letters.c.source_id, dead_letters.c.reason)
        .where(dead_letters.c.integration == integration,
               dead_letters.c.reason_code == "destination_conflict",
               dead_letters.c.resolved_at.is_(None),
               dead_letters.c.business_date >= window.first_day,
               dead_letters.c.business_date < window.end_day)
        .order_by(dead_letters.c.id)
    ).all()
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


def api_version_check(client: ShopifyClient, asset: dg.AssetKey) -> dg.AssetCheckResult:
    """WARN when Shopify served another version than asked for, or flagged a call deprecated."""
    served = dict(client.served_versions)
    other = sorted(v for v in served if v != client.api_version)
    problems = ([f"asked for {client.api_version}, Shopify served {', '.join(other)} (the "
                 "asked version is retired or unknown)"] if other else []) + [
        f"{endpoint} deprecated: {reason}" for endpoint, reason in client.deprecations.items()]
    return dg.AssetCheckResult(
        check_name=API_VERSION_SPEC.name, asset_key=asset, passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) + (
            ". Move the catalog's shopify.api_version to a supported version."
            if problems else "") or None,
        metadata={"configured_version": client.api_version,
                  "served_versions": dg.MetadataValue.json(served),
                  "deprecated_calls": len(client.deprecations),
                  "deprecations": dg.MetadataValue.json(client.deprecations)},
    )
