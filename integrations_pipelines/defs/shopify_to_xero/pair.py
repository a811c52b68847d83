"""Shopify orders into Xero, on the kit: the second accounting destination.

Three steps, built into assets, jobs and schedules by the kit's factory:
`shopify/orders` (the shared Shopify step), `<pair>/invoice_sync` (each order's invoice,
credit notes and payment, written idempotently, new invoices 50 per request) and
`xero/invoices` (the window's invoices as Xero states them, reconciled against what Shopify
states; under the repair job the discrepant orders are re-synced first). The read-back also
compares the day's VAT per rate net of refunds (a warning). Token health watches the `xero`
connections (refresh tokens die after 60 days unused). `<pair>_books_changed_sensor` runs a
day again when someone else changed its invoices in Xero (webhooks, If-Modified-Since).
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration, as_entry
from integrations_pipelines.defs.alerting.volume import VolumeSpec
from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit import DriftCheck, PairSpec, Step, StepReport, StepRun
from integrations_pipelines.defs.kit.accounted import accounted_result
from integrations_pipelines.defs.kit.jobs import repair_job_name
from integrations_pipelines.defs.kit.reconciliation import reconciliation_result, window_run_ids
from integrations_pipelines.defs.partitions import daily_partitions
from integrations_pipelines.defs.resources import XeroResource
from integrations_pipelines.defs.shopify_to_xero.books_changed import books_changed_sensor
from integrations_pipelines.defs.sources.shopify_orders import orders_step
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.reconciliation.shopify_to_xero import LABELS, reconcile, vat_by_rate
from integrations_pipelines.reconciliation.window import WindowReconciliation
from integrations_pipelines.sync.engine import SKIPPED
from integrations_pipelines.sync.shopify_to_xero import read_back, repair_window, sync_stored
from integrations_pipelines.vendors.shopify.records import orders_kind
from integrations_pipelines.vendors.xero.records import invoices_kind

__all__ = ["ACCOUNTED", "OAUTH_SYSTEMS", "RECONCILED", "VAT", "pair_spec"]

ACCOUNTED = "every_order_booked_or_dead_lettered"
RECONCILED = "invoices_match_shopify_orders"
VAT = "vat_per_rate_matches_shopify"
OAUTH_SYSTEMS = ("xero",)


def _entry(entry: Integration) -> ShopifyToXeroEntry:
    return as_entry(entry, ShopifyToXeroEntry)


def sync_orders(run: StepRun, check: dg.AssetCheckSpec) -> StepReport:
    entry, window = _entry(run.entry), run.window
    xero: XeroResource = run.vendor
    client = xero.client(run.metrics, run.store, run.run_id)
    with vendor_failures(f"syncing orders into Xero {window.label}"), client.http:
        read, outcome = sync_stored(run.engine, client, entry, window.first_day,
                                    window.end_day)
    with run.engine.connect() as conn:
        accounted = accounted_result(conn, orders_kind(entry.shopify.shop), entry.name, window,
                                     check, "orders")
    return StepReport(metadata={
        "orders_in_window": read, "invoices_created": outcome.created,
        "invoices_updated": outcome.updated, "invoices_voided": outcome.voided,
        "invoices_unchanged": outcome.unchanged, "stale_versions_skipped": outcome.stale_skipped,
        "orders_dead_lettered": outcome.dead_lettered, "orders_skipped_by_policy": outcome.skipped,
        "destination_conflicts": outcome.conflicts,
        "dead_letter_reasons": dg.MetadataValue.json(dict(outcome.dead_letter_reasons)),
        "token_refreshes": client.tokens.refreshes if client.tokens else 0,
        "rate_limit_problems": dg.MetadataValue.json(client.problems.seen),
    }, checks=[accounted])


def _vat_result(conn: sa.Connection, entry: ShopifyToXeroEntry, run: StepRun, tenant: str,
                check: dg.AssetCheckSpec, rates: dict[str, Decimal]) -> dg.AssetCheckResult:
    vat = vat_by_rate(conn, entry, run.window.first_day, run.window.end_day, tenant, rates)

    def shown(amounts: dict[str, Decimal]) -> dict[str, float]:
        return {rate: float(v) for rate, v in sorted(amounts.items())}

    return dg.AssetCheckResult(
        check_name=check.name, asset_key=check.asset_key, passed=not vat.differences,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"rate {rate}: Shopify {s}, Xero {x}"
                              for rate, (s, x) in vat.differences.items()) or None,
        metadata={"shopify_vat_by_rate": dg.MetadataValue.json(shown(vat.shopify)),
                  "xero_vat_by_rate": dg.MetadataValue.json(shown(vat.xero)),
                  "vat_of_dead_lettered_orders": dg.MetadataValue.json(
                      shown(vat.dead_lettered)),
                  "rates_differing": len(vat.differences)})


def read_back_invoices(run: StepRun, reconciled: dg.AssetCheckSpec,
                       vat: dg.AssetCheckSpec) -> StepReport:
    entry, window, context = _entry(run.entry), run.window, run.context
    xero: XeroResource = run.vendor
    client = xero.client(run.metrics, run.store, run.run_id)
    repaired: dict[str, Any] = {}
    with client.http:
        if run.repair:
            with vendor_failures(f"repairing Xero invoices {window.label}"):
                done = repair_window(run.engine, client, entry, window.first_day,
                                     window.end_day)
            repaired = {"repair_orders_resynced": done.sync.processed,
                        **{f"repair_found_{c}": n for c, n in done.report.counts.items()}}
        with vendor_failures(f"reading back Xero invoices {window.label}"):
            books = read_back(run.engine, client, window.first_day, window.end_day,
                              run.run_id)
    invoices = books.invoices
    run_ids = tuple(window_run_ids(context.instance, context.partition_keys, run.run_id))
    with run.engine.connect() as conn:
        report = reconcile(conn, entry, window.first_day, window.end_day, client.tenant_id,
                           run_ids=run_ids)
        vat_check = _vat_result(conn, entry, run, client.tenant_id, vat, books.tax_rates)
    result = reconciliation_result(report, window, reconciled.name, reconciled.asset_key,
                                   repair_job_name(entry.name))
    return StepReport(metadata={
        **repaired, "invoices_read": len(invoices),
        "invoices_total": float(sum((Decimal(str(i.get("Total") or 0)) for i in invoices),
                                    Decimal(0))),
        "invoices_paid": sum(1 for i in invoices if i.get("Status") == "PAID"),
        "invoices_voided": sum(1 for i in invoices if i.get("Status") == "VOIDED"),
        "credit_notes_read": len(books.credit_notes),
        "invoices_partly_paid": sum(1 for i in invoices if i.get("Status") == "AUTHORISED"
                                    and Decimal(str(i.get("AmountPaid") or 0)) > 0),
    }, checks=[result, vat_check])


def sample_day(conn: sa.Connection, entry: Integration, day: date,
               xero: Any) -> WindowReconciliation:
    resource: XeroResource = xero
    return reconcile(conn, _entry(entry), day, day + timedelta(days=1),
                     resource.connection_settings().tenant_id)


def _tenant(xero: XeroResource) -> str:
    return xero.connection_settings().tenant_id


def volume(entry: Integration, orders: dg.AssetKey, invoices: dg.AssetKey) -> VolumeSpec:
    """The expected-volume checks, as the flagship's: the day's orders against their
    baseline, and Xero's invoices keeping up with them."""
    return VolumeSpec(
        integration=entry, partitions=daily_partitions(entry), source_key=orders,
        source_kind=orders_kind(_entry(entry).shopify.shop), destination_key=invoices,
        destination_kind=invoices_kind,
        account_resource="xero", destination_account=_tenant,
        volume_check="order_volume_matches_baseline",
        behind_check="invoices_keep_up_with_orders",
        zero_cause="the shop stopped taking orders, or the extraction cannot see them "
                   "(credentials, filters, a partition computed in the wrong timezone)",
        low_cause="an outage at the shop, or orders lost by the extraction (pagination, "
                  "filters, a partition computed in the wrong timezone)",
        behind_cause="invoice writes failed or were throttled without a dead letter (Xero's "
                     "day limit), or invoices were deleted in Xero; see the run's "
                     "http_failures and the invoices_match_shopify_orders check",
        skipped_status=SKIPPED, words=("orders", "invoices"))


def pair_spec(entry: Integration) -> PairSpec:
    """The pair's spec for its catalog entry."""
    sync_key = dg.AssetKey([entry.name, "invoice_sync"])
    invoices_key = dg.AssetKey(entry.system_key("xero", "invoices"))
    accounted = dg.AssetCheckSpec(
        ACCOUNTED, asset=sync_key, blocking=True,
        description="Each order of the window is booked in Xero at its current version, "
        "settled by policy, or has an open dead letter with Xero's (or the mapping's) reason.")
    reconciled = dg.AssetCheckSpec(
        RECONCILED, asset=invoices_key, blocking=True,
        description="Every order of the window has one Xero invoice stating what Shopify "
        "states, as Xero computes it: currency, Total and TotalTax as sold, AmountCredited "
        "(refunds), AmountDue and AmountPaid (Shopify's outstanding amount) and Status "
        "(VOIDED, PAID, AUTHORISED); counts of missing, extra, wrong_values, stale and "
        f"duplicate with causes. Repair with {repair_job_name(entry.name)}.")
    vat = dg.AssetCheckSpec(
        VAT, asset=invoices_key,
        description="The day's VAT per rate net of refunds: Shopify's tax lines less the tax "
        "its refunds gave back, against the tax Xero holds on the invoice lines less their "
        "credit notes' lines, each at the rate Xero states for its tax type (TaxRates).")
    return PairSpec(
        entry=_entry(entry), labels=LABELS, sample=sample_day,
        extract=orders_step(entry),
        sync=Step(key=sync_key, resource="xero", group=entry.name,
                  kinds=frozenset({"xero", "postgres"}), check_specs=[accounted],
                  description="Books each Shopify order in Xero: an invoice as sold (new ones "
                  "50 per request), its refunds as credit notes allocated to it, its payment "
                  "into the clearing account, or its void; idempotently (ledger, "
                  "Idempotency-Key, lookup by InvoiceNumber).",
                  run=lambda run: sync_orders(run, accounted)),
        read_back=Step(key=invoices_key, resource="xero", group="xero",
                       kinds=frozenset({"xero", "postgres"}), check_specs=[reconciled, vat],
                       description="The window's Xero invoices as Xero states them (Total, "
                       "TotalTax, AmountCredited, AmountDue, Status), in the raw store, "
                       "reconciled against Shopify's orders (repaired first under the "
                       "repair job).",
                       run=lambda run: read_back_invoices(run, reconciled, vat)),
        volume=volume(entry, dg.AssetKey(entry.system_key("shopify", "orders")),
                      invoices_key),
        drift=[DriftCheck("xero", invoices_key,
                          "Xero answers carried no field that the Invoice, CreditNote and "
                          "Payment models and their lists of known fields lack.")],
        oauth_systems=OAUTH_SYSTEMS,
        extra=lambda e: dg.Definitions(sensors=[books_changed_sensor(_entry(e))]),
    )
