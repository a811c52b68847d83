"""The pair's change feed in Dagster: Stripe's Events API, polled.

`<pair>/stripe_changes` (not partitioned) takes the events since the cursor into the raw
store and re-loads the objects they carry into the warehouse, on the days those objects
belong to (`sync/stripe_changes.py`); its freshness policy is the feed's dead-man switch
(`change_capture.sla_minutes`). `<pair>_changes_sensor` looks every
`change_capture.delay_minutes`: one `GET /v1/events?limit=1` after the cursor (through the
project's client and the account's budget) and the receiver's inbox; it launches
`<pair>_changes_job` only when Stripe has an event or a delivery waits (or the cursor has
been idle for `heartbeat_minutes`), and skips with the reason otherwise. Each run also loads
the Stripe webhook deliveries waiting in the receiver's inbox. A change
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
from integrations_pipelines.state import cursors
from integrations_pipelines.sync.stripe_changes import FEED, capture, drain_deliveries
from integrations_pipelines.sync.stripe_to_warehouse import ensure_schema
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.webhooks.drain import inbox_state

__all__ = ["ACTIVE", "changes_decision", "changes_definitions"]


ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
          dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def changes_decision(instance: dg.DagsterInstance, store: IntegrationStore,
                     stripe: StripeResource, entry: StripeToWarehouseEntry,
                     job_name: str) -> dg.RunRequest | dg.SkipReason:
    """Launch a pass only when it has something to do: no cursor yet, an event at or
    after the cursor (one `GET /v1/events?limit=1` through the project's client and
    the account's shared budget), a Stripe delivery waiting in the receiver's inbox, or
    a cursor idle for `heartbeat_minutes` (the feed's freshness is its dead-man switch,
    so a quiet account still shows a live feed)."""
    active = instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"change run {active[0].run_id[:8]} is still going")
    options = entry.change_capture
    with store.engine().connect() as conn:
        cursor = cursors.get(conn, entry.name, FEED)
        waiting = inbox_state(conn, "stripe", entry.stripe.webhook_connection).pending
    if cursor is None:
        return dg.RunRequest(tags={"change_capture": "first"})
    if waiting:
        return dg.RunRequest(tags={"change_capture": f"{waiting} webhook deliveries"})
    account = stripe.connect(HttpMetrics(), store, None, entry.stripe.api_version,
                             entry.stripe.account)
    with vendor_failures("asking Stripe for events"), account.client.http:
        changed = account.client.any_event_since(cursor.position)
    if changed:
        return dg.RunRequest(tags={"change_capture": "events"})
    idle = datetime.now(UTC) - cursor.advanced_at
    if idle >= timedelta(minutes=options.heartbeat_minutes):
        return dg.RunRequest(tags={"change_capture": "heartbeat"})
    return dg.SkipReason(f"no Stripe event since {cursor.position:%Y-%m-%d %H:%M:%S} UTC")


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
               description="Every change_capture.delay_minutes: asks Stripe for one event "
               "after the cursor (and the receiver's inbox for Stripe deliveries) and "
               "launches one pass over the feed when there is something to take in, or when "
               "the cursor has not moved for change_capture.heartbeat_minutes; never two at "
               "once.")
    def changes_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                       stripe: StripeResource) -> dg.RunRequest | dg.SkipReason:
        return changes_decision(context.instance, store, stripe, stripe_entry, job.name)

    return dg.Definitions(assets=[stripe_changes], jobs=[job], sensors=[changes_sensor])
