"""Dagster wiring of change capture: changes after the day closes reach the books.

`shopify_to_quickbooks/order_changes` is materialized by one run per batch of changes: it
reads Shopify's change feed from the durable cursor, stores the changed orders and re-syncs
them through the nightly run's write path (`sync/change_capture.py`). For each creation day it
touched it also records a materialization of that day's partition of
`shopify_to_quickbooks/invoice_sync`, so a day's history shows the refund that arrived weeks
later. `change_capture_sensor` looks every `delay_minutes` (one cheap count request) and
launches the run when something changed, or when the cursor has not moved for
`heartbeat_minutes`; the asset's freshness policy (`sla_minutes`) is the change feed's
dead-man switch: a stopped sensor, a daemon down or a feed that keeps failing raise the
freshness alert like any other stale asset.
"""


from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit import http_metadata
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)
from integrations_pipelines.defs.shopify_to_quickbooks.steps import (
    CATALOG,
    NAME,
    OWNERS,
    SYNC_KEY,
    TAGS,
)
from integrations_pipelines.state import cursors
from integrations_pipelines.sync.change_capture import FEED, ResyncOutcome, capture_changes
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.metrics import HttpMetrics

__all__ = ["ACTIVE", "CHANGES_KEY", "change_capture_sensor", "order_changes", "resync_metadata",
           "shopify_to_quickbooks_changes_job"]

CHANGES_KEY = dg.AssetKey([NAME, "order_changes"])
OPTIONS = CATALOG.change_capture
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
          dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


@dg.asset(
    key=CHANGES_KEY,
    group_name=NAME,
    pool="quickbooks",
    kinds={"shopify", "quickbooks", "postgres"},
    owners=OWNERS,
    tags=TAGS,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=OPTIONS.sla_minutes)),
    description="Orders Shopify changed since the change cursor (refunds, cancellations, "
    "edits of any earlier day), stored in `raw_records` and re-synced into their "
    "invoices; the cursor (`change_cursors`) advances only after both. Stale past the "
    "catalog's change_capture.sla_minutes: the change feed stopped.",
)
def order_changes(context: dg.AssetExecutionContext, store: IntegrationStore,
                  shopify: ShopifyResource, quickbooks: QuickBooksResource,
                  ) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster: bare class
    engine = store.engine()
    metrics = HttpMetrics()
    source = shopify.client(metrics, store, context.run_id, CATALOG.shopify.api_version)
    books = quickbooks.client(metrics, store, context.run_id)
    today = datetime.now(ZoneInfo(CATALOG.timezone)).date()
    with vendor_failures("capturing Shopify order changes"), source.http, books.http:
        outcome = capture_changes(engine, source, InvoiceSync(engine, books, CATALOG),
                                  now=datetime.now(UTC), first_open_day=today,
                                  run_id=context.run_id)
    context.log.info(f"change feed {outcome.since:%Y-%m-%d %H:%M:%S}..{outcome.until:%H:%M:%S}:"
                     f" {outcome.extraction.extracted} changed, {outcome.changes.resynced} "
                     f"re-synced over {len(outcome.changes.by_day)} days")
    return dg.MaterializeResult(metadata={
        "feed_since": outcome.since.isoformat(),
        "cursor": outcome.until.isoformat(),
        "orders_changed": outcome.extraction.extracted,
        "orders_dead_lettered": outcome.extraction.dead_lettered,
        **resync_metadata(context, outcome.changes, "change capture"),
        **http_metadata(metrics),
    })


def resync_metadata(context: dg.AssetExecutionContext, changes: ResyncOutcome,
                    source: str) -> dict[str, Any]:
    """Record each touched day on its `invoice_sync` partition (so a day's history shows the
    refund that arrived weeks later, and from which path) and return the run's totals."""
    for day, synced in changes.by_day.items():
        context.log_event(dg.AssetMaterialization(
            asset_key=SYNC_KEY, partition=day.isoformat(),
            description=f"orders of this day changed after it closed ({source})",
            metadata={"changed_orders": synced.processed,
                      "invoices_created": synced.created, "invoices_updated": synced.updated,
                      "invoices_voided": synced.voided, "invoices_unchanged": synced.unchanged,
                      "stale_versions_skipped": synced.stale_skipped,
                      "orders_dead_lettered": synced.dead_lettered,
                      "source": source}))
    return {
        "orders_resynced": changes.resynced,
        "invoices_updated": changes.total("updated"),
        "invoices_voided": changes.total("voided"),
        "invoices_created": changes.total("created"),
        "invoices_unchanged": changes.total("unchanged"),
        "days_touched": dg.MetadataValue.json(
            {d.isoformat(): o.processed for d, o in sorted(changes.by_day.items())}),
        "left_for_tonight": changes.left_for_tonight,
        "before_first_partition": changes.before_first_partition,
    }


shopify_to_quickbooks_changes_job = dg.define_asset_job(
    f"{NAME}_changes_job",
    selection=dg.AssetSelection.assets(CHANGES_KEY),
    description="Re-sync the orders Shopify changed since the change cursor: one run per "
    "batch, launched by change_capture_sensor.",
    tags={"integration": NAME},
)


@dg.sensor(
    name="change_capture_sensor",
    job=shopify_to_quickbooks_changes_job,
    minimum_interval_seconds=OPTIONS.delay_minutes * 60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every change_capture.delay_minutes: asks Shopify how many orders changed "
    "since the cursor and launches one change-capture run when any did (or when the cursor "
    "has not moved for change_capture.heartbeat_minutes); never two at once.",
)
def change_capture_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                          shopify: ShopifyResource) -> dg.RunRequest | dg.SkipReason:
    active = context.instance.get_runs(dg.RunsFilter(
        job_name=shopify_to_quickbooks_changes_job.name, statuses=ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"change capture run {active[0].run_id[:8]} is still going")
    with store.engine().connect() as conn:
        cursor = cursors.get(conn, NAME, FEED)
    if cursor is None:
        return dg.RunRequest(tags={"change_capture": "first"})
    idle = datetime.now(UTC) - cursor.advanced_at
    zone = ZoneInfo(CATALOG.timezone)
    today = datetime.combine(datetime.now(zone).date(), datetime.min.time(), zone)
    client = shopify.client(HttpMetrics(), store, None, CATALOG.shopify.api_version)
    with client.http:  # orders of closed days only: today's are tonight's run's
        changed = client.count_changed_orders(updated_at_min=cursor.position,
                                              created_before=today)
    if changed:
        return dg.RunRequest(tags={"change_capture": f"{changed} changed"})
    if idle >= timedelta(minutes=OPTIONS.heartbeat_minutes):
        return dg.RunRequest(tags={"change_capture": "heartbeat"})
    return dg.SkipReason(f"nothing changed since {cursor.position:%Y-%m-%d %H:%M:%S} UTC")
