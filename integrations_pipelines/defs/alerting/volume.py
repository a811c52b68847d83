"""Expected-volume checks of the flagship integration: dead-man's switches for "the sync ran,
but far too little arrived".

`order_volume_matches_baseline` (on `shopify/orders`, per daily partition) compares the day's
extracted orders with the median of the same weekday over the last weeks; a quiet day (the
catalog's `quiet_weekdays` and `holidays`, or a weekday whose history is about zero) stays
green. Days the asset was materialized with no orders count as zero; days never extracted are
unknown, not zero. `invoices_keep_up_with_orders` (on `quickbooks/invoices`) fails when the
window has fewer invoices in QuickBooks than orders that should have one (the orders with an
open dead letter, and those the catalog skips, such as test orders, are accounted for).
Both are non-blocking: the run goes on, and the failed evaluation becomes an incident
through `asset_check_alert_sensor`.
"""

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.alerts.volume import (
    VolumePolicy,
    VolumeVerdict,
    check_volume,
    destination_behind_source,
)
from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.partitions import Window, run_window
from integrations_pipelines.defs.resources import IntegrationStore, QuickBooksResource
from integrations_pipelines.defs.shopify_to_quickbooks.assets import (
    CATALOG,
    INVOICES_KEY,
    NAME,
    ORDERS_KEY,
    PARTITIONS,
)
from integrations_pipelines.state import accounted, raw
from integrations_pipelines.sync.shopify_to_quickbooks import SKIPPED
from integrations_pipelines.vendors.quickbooks.records import invoices_kind
from integrations_pipelines.vendors.shopify.records import ORDERS

VOLUME_CHECK = "order_volume_matches_baseline"
BEHIND_CHECK = "invoices_keep_up_with_orders"
POLICY = VolumePolicy()
ZERO_CAUSE = ("the shop stopped taking orders, or the extraction cannot see them "
              "(credentials, filters, a partition computed in the wrong timezone)")
LOW_CAUSE = ("an outage at the shop, or orders lost by the extraction (pagination, filters, "
             "a partition computed in the wrong timezone)")
BEHIND_CAUSE = ("invoice writes failed or were throttled without a dead letter, or invoices "
                "were deleted in QuickBooks; see the run's http_failures and the "
                "invoices_match_shopify_orders check")


def _days(window: Window) -> list[date]:
    return [window.first_day + timedelta(days=n)
            for n in range((window.end_day - window.first_day).days)]


def order_history(conn: sa.Connection, instance: dg.DagsterInstance, start: date,
                  end: date) -> dict[date, int]:
    """Orders per business day in [start, end): the raw store's counts, with 0 for a day
    that was extracted (its partition materialized) and had no orders."""
    counts = raw.counts_by_day(conn, ORDERS, start, end)
    extracted = {date.fromisoformat(key) for key in instance.get_materialized_partitions(
        ORDERS_KEY)}
    return {d: counts.get(d, 0) for d in extracted | set(counts) if start <= d < end}


def quiet_verdict(integration: Integration, day: date, count: int) -> VolumeVerdict:
    """Green by configuration: a holiday or a weekday the business never trades on."""
    why = "a configured holiday" if day in integration.holidays else \
        f"a configured quiet weekday ({day:%A})"
    return VolumeVerdict(day, True, count, None, None, f"{day} is {why}", True, ())


def volume_verdicts(history: Mapping[date, int], days: list[date],
                    integration: Integration) -> list[VolumeVerdict]:
    """The verdict of each day, from its history and the catalog's quiet days."""
    return [
        quiet_verdict(integration, day, history.get(day, 0)) if integration.is_quiet_day(day)
        else check_volume(history, day, history.get(day, 0), policy=POLICY,
                          holidays=integration.holidays,
                          fallback_expected=integration.expected_daily_volume)
        for day in days
    ]


def volume_result(verdicts: list[VolumeVerdict]) -> dg.AssetCheckResult:
    """One check result for the window: the first failing day decides (else the last day)."""
    failing = [v for v in verdicts if not v.ok]
    shown = failing[0] if failing else verdicts[-1]
    metadata: dict[str, Any] = {
        **shown.metadata(),
        "day": shown.day.isoformat(),
        "weekday": f"{shown.day:%A}",
        "samples": dg.MetadataValue.json(list(shown.samples)),
        "days_failing": len(failing),
    }
    if len(verdicts) > 1:
        metadata["per_day"] = dg.MetadataValue.json(
            {v.day.isoformat(): v.metadata() for v in verdicts})
    severity = dg.AssetCheckSeverity.WARN
    if failing:
        metadata["likely_cause"] = ZERO_CAUSE if shown.actual == 0 else LOW_CAUSE
        if shown.actual == 0:
            severity = dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(passed=not failing, severity=severity, description=shown.reason,
                               metadata=metadata)


@dg.asset_check(
    asset=ORDERS_KEY,
    name=VOLUME_CHECK,
    partitions_def=PARTITIONS,
    description="The day's orders are not far below the usual: at least half the median of "
    "the same weekday over the last six weeks (the catalog's expected_daily_volume while the "
    "history is short). Quiet days (configured holidays and weekdays, or weekdays whose "
    "history is about zero) always pass. Zero orders on a normal day fails at ERROR.",
)
def order_volume_matches_baseline(context: dg.AssetCheckExecutionContext,
                                  store: IntegrationStore) -> dg.AssetCheckResult:
    window = run_window(context)
    lookback = window.first_day - timedelta(weeks=POLICY.weeks)
    with store.engine().connect() as conn:
        history = order_history(conn, context.instance, lookback, window.end_day)
    return volume_result(volume_verdicts(history, _days(window), CATALOG))


def invoices_behind_result(conn: sa.Connection, integration: str, realm_id: str,
                           window: Window) -> dg.AssetCheckResult:
    """Counts both sides of the window: orders that should have an invoice (not
    dead-lettered, not settled by policy without one, like test orders), and invoices."""
    source = accounted.expected_in_window(conn, ORDERS, integration, window.first_day,
                                          window.end_day, skipped_status=SKIPPED)
    invoices = raw.count_window(conn, invoices_kind(realm_id), window.first_day,
                                window.end_day)
    verdict = destination_behind_source(source.expected, invoices)
    metadata: dict[str, Any] = {
        "orders": source.records, "dead_lettered": source.dead_lettered,
        "skipped": source.skipped, "expected_invoices": source.expected,
        "invoices": invoices, "missing": verdict.missing, "window": window.label,
    }
    if not verdict.ok:
        metadata["likely_cause"] = BEHIND_CAUSE
    return dg.AssetCheckResult(passed=verdict.ok, severity=dg.AssetCheckSeverity.ERROR,
                               description=verdict.reason, metadata=metadata)


@dg.asset_check(
    asset=INVOICES_KEY,
    name=BEHIND_CHECK,
    partitions_def=PARTITIONS,
    description="QuickBooks holds at least one invoice (live or voided) for every order of "
    "the window that is not dead-lettered or skipped by policy (test orders): the "
    "destination's count is not behind the source's.",
)
def invoices_keep_up_with_orders(context: dg.AssetCheckExecutionContext,
                                 store: IntegrationStore,
                                 quickbooks: QuickBooksResource) -> dg.AssetCheckResult:
    window = run_window(context)
    realm_id = quickbooks.connection_settings().realm_id
    with store.engine().connect() as conn:
        return invoices_behind_result(conn, NAME, realm_id, window)
