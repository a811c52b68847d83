"""The nightly job of the flagship integration, its schedule, the repair job, and the
nightly rolling reconciliation over the days before."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from integrations_pipelines.defs.shopify_to_quickbooks.assets import (
    CATALOG,
    INVOICES_KEY,
    NAME,
    ORDERS_KEY,
    PARTITIONS,
    SYNC_KEY,
)
from integrations_pipelines.defs.shopify_to_quickbooks.repair import REPAIR_RUN_CONFIG

__all__ = [
    "CHUNK_DAYS", "rolling_ranges", "rolling_reconciliation", "shopify_to_quickbooks_job",
    "shopify_to_quickbooks_job_schedule", "shopify_to_quickbooks_repair_job",
    "shopify_to_quickbooks_rolling_reconciliation_job",
]

shopify_to_quickbooks_job = dg.define_asset_job(
    f"{NAME}_job",
    selection=dg.AssetSelection.assets(ORDERS_KEY, SYNC_KEY, INVOICES_KEY),
    partitions_def=PARTITIONS,
    description="Extract one day's Shopify orders, sync them into QuickBooks invoices, and "
    "read the invoices back; each step checks its promise before the next one runs.",
    tags={"integration": NAME},
)

shopify_to_quickbooks_repair_job = dg.define_asset_job(
    f"{NAME}_repair_job",
    selection=dg.AssetSelection.assets(INVOICES_KEY),
    partitions_def=PARTITIONS,
    config=REPAIR_RUN_CONFIG,
    description="Re-sync exactly the discrepant invoices of a partition (or a range), then "
    "read the window back and re-run its checks: the run passes when nothing is left.",
    tags={"integration": NAME},
)

shopify_to_quickbooks_job_schedule = dg.build_schedule_from_partitioned_job(
    shopify_to_quickbooks_job,
    name=f"{NAME}_job_schedule",
    hour_of_day=CATALOG.schedule.hour,
    minute_of_hour=CATALOG.schedule.minute,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly: yesterday's partition, once the day is over.",
)

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


CHUNK_DAYS = 7  # days per rolling-reconciliation run: a run holds its days' orders in memory


def rolling_ranges(today: date) -> list[tuple[date, date]]:
    """The days the rolling reconciliation re-reads, as [first, last] ranges of at most a
    week: the catalog's rolling_days before yesterday (yesterday is the nightly run's),
    never before the first partition."""
    last = today - timedelta(days=2)
    first = max(today - timedelta(days=1 + CATALOG.change_capture.rolling_days),
                CATALOG.partitions_start)
    ranges = []
    while first <= last:
        end = min(first + timedelta(days=CHUNK_DAYS - 1), last)
        ranges.append((first, end))
        first = end + timedelta(days=1)
    return ranges


shopify_to_quickbooks_rolling_reconciliation_job = dg.define_asset_job(
    f"{NAME}_rolling_reconciliation_job",
    selection=dg.AssetSelection.assets(ORDERS_KEY, SYNC_KEY, INVOICES_KEY),
    partitions_def=PARTITIONS,
    description="The nightly job's steps over the last change_capture.rolling_days days "
    "before yesterday, a week per run: both sides read again, what the change feed missed "
    "synced, what still differs classified with its cause.",
    tags={"integration": NAME, "kind": "rolling_reconciliation"},
)


@dg.schedule(
    name=f"{NAME}_rolling_reconciliation_job_schedule",
    job=shopify_to_quickbooks_rolling_reconciliation_job,
    cron_schedule=f"{CATALOG.schedule.minute} {(CATALOG.schedule.hour + 1) % 24} * * *",
    execution_timezone=CATALOG.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    metadata={"skips_are_expected": True},  # nothing to do in the integration's first days
    description="Nightly, an hour after the nightly run: the whole job over the last "
    "change_capture.rolling_days days before yesterday, one run per week of days (a run "
    "holds its days' orders in memory). Both sides are read again, so a change the change "
    "feed missed is synced and anything still different is classified, with its cause, by "
    "invoices_match_shopify_orders.",
)
def rolling_reconciliation(context: dg.ScheduleEvaluationContext,
                           ) -> list[dg.RunRequest] | dg.SkipReason:
    zone = ZoneInfo(CATALOG.timezone)
    moment = context.scheduled_execution_time or datetime.now(zone)
    ranges = rolling_ranges(moment.astimezone(zone).date())
    if not ranges:
        return dg.SkipReason("no closed day before yesterday yet")
    return [dg.RunRequest(run_key=f"rolling:{first.isoformat()}..{last.isoformat()}",
                          tags={RANGE_START: first.isoformat(), RANGE_END: last.isoformat()})
            for first, last in ranges]
