"""The nightly job of the flagship integration and its schedule."""

from __future__ import annotations

import dagster as dg

from integrations_pipelines.defs.shopify_to_quickbooks.assets import (
    CATALOG,
    INVOICES_KEY,
    NAME,
    ORDERS_KEY,
    PARTITIONS,
    SYNC_KEY,
)

shopify_to_quickbooks_job = dg.define_asset_job(
    f"{NAME}_job",
    selection=dg.AssetSelection.assets(ORDERS_KEY, SYNC_KEY, INVOICES_KEY),
    partitions_def=PARTITIONS,
    description="Extract one day's Shopify orders, sync them into QuickBooks invoices, and "
    "read the invoices back; each step checks its promise before the next one runs.",
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
