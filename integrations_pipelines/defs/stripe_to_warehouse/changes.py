"""The pair's change feed in Dagster: Stripe's Events API, polled.

`<pair>/stripe_changes` (not partitioned) takes the events since the cursor into the raw
store and re-loads the objects they carry into the warehouse, on the days those objects
belong to (`sync/stripe_changes.py`); its freshness policy is the feed's dead-man switch
(`change_capture.sla_minutes`). `<pair>_changes_sensor` launches `<pair>_changes_job` every
`change_capture.delay_minutes` (the run is one events list when nothing changed); each run
also loads the Stripe webhook deliveries waiting in the receiver's inbox. A change
seen by both this feed and a later nightly run meets on the warehouse row: the MERGE writes
it once, and the second time finds nothing to write.
"""


from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit.assets import http_metadata
from integrations_pipelines.defs.resources import IntegrationStore, WarehouseResource
from integrations_pipelines.defs.sources.stripe_objects import http_failure_figures
from integrations_pipelines.defs.sources.stripe_resource import StripeResource
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.sync.stripe_changes import capture, drain_deliveries
from integrations_pipelines.sync.stripe_to_warehouse import ensure_schema
from integrations_pipelines.vendors.metrics import HttpMetrics

__all__ = ["changes_definitions"]


def changes_definitions(entry: Integration) -> dg.Definitions:
    """The change feed's asset, job and sensor for one Stripe -> warehouse entry."""
    if not isinstance(entry, StripeToWarehouseEntry):
        raise TypeError(f"catalog entry {entry.name!r} is not a StripeToWarehouseEntry")
    stripe_entry = entry
    key = dg.AssetKey([entry.name, "stripe_changes"])
    options = entry.change_capture

    @dg.asset(key=key, group_name=entry.name, kinds={"stripe", "postgres"}, pool="stripe",
              tags={"integration": entry.name}, owners=[entry.owner, entry.owner_email],
              freshness_policy=dg.FreshnessPolicy.time_window(
                  fail_window=timedelta(minutes=options.sla_minutes)),
              description="Stripe changes after their day (refunds, dispute outcomes, paid "
              "payouts) from the Events API since the durable cursor, stored at their "
              "newest version and re-loaded into the warehouse on their own days.")
    def stripe_changes(context: dg.AssetExecutionContext, store: IntegrationStore,
                       stripe: StripeResource, warehouse: WarehouseResource,
                       ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        metrics = HttpMetrics()
        conn = stripe.connect(metrics, store, context.run_id, stripe_entry.stripe.api_version,
                              stripe_entry.stripe.account)
        ensure_schema(warehouse.engine(), stripe_entry)  # the change run may come first
        with vendor_failures("capturing Stripe events"), conn.client.http:
            done = capture(store.engine(), warehouse.engine(), conn.client, stripe_entry,
                           datetime.now(UTC), context.run_id,
                           overlap=timedelta(seconds=options.overlap_seconds),
                           lag=timedelta(seconds=options.lag_seconds))
            pushed = drain_deliveries(store.engine(), warehouse.engine(), conn.client.contracts,
                                      conn.client.api_version, stripe_entry,
                                      stripe_entry.stripe.webhook_connection, context.run_id,
                                      datetime.now(UTC).date())
        if done.beyond_retention:
            context.log.warning("the change cursor was older than Stripe's 30-day event "
                                "retention: run the rolling reconciliation over the gap")
        metadata: dict[str, Any] = {
            "events": done.events, "objects_changed": done.objects, "stored": done.stored,
            "dead_lettered": done.dead_lettered, "rows_written": done.rows_written,
            "events_of_other_api_versions": done.other_versions,
            "webhook_deliveries": pushed.events, "webhook_rows_written": pushed.rows_written,
            "beyond_retention": done.beyond_retention,
            "days": dg.MetadataValue.json(done.days),
            "cursor": done.cursor.isoformat() if done.cursor else "",
            **http_failure_figures(metrics, conn), **http_metadata(metrics)}
        return dg.MaterializeResult(metadata=metadata)

    job = dg.define_asset_job(f"{entry.name}_changes_job", selection=[key],
                              tags={"integration": entry.name},
                              description="One pass over Stripe's event feed.")

    @dg.sensor(name=f"{entry.name}_changes_sensor", job=job,
               minimum_interval_seconds=options.delay_minutes * 60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Every change_capture.delay_minutes: one pass over Stripe's event "
               "feed (the pass is one list call when nothing changed).")
    def changes_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest:
        bucket = int(datetime.now(UTC).timestamp()) // (options.delay_minutes * 60)
        return dg.RunRequest(run_key=f"stripe-changes:{bucket}")

    return dg.Definitions(assets=[stripe_changes], jobs=[job], sensors=[changes_sensor])
