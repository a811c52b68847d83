"""Dagster wiring of the webhook path: pushed changes reach the books within minutes.

- `shopify_to_quickbooks/webhook_deliveries` drains the receiver's inbox
  (`webhooks/drain.py`) through the same write path as the nightly run and the change feed,
  and reports the inbox's depth and age; its `webhook_inbox_keeps_up` check warns when the
  inbox grows or ages (the drain is failing or cannot keep up).
- `webhook_inbox_sensor` launches one drain run when deliveries wait (never two at once).
- `books_changed_sensor` turns QuickBooks' notifications (and, every `cdc_minutes`, its
  ChangeDataCapture feed, the safety net) about invoices someone else changed into runs of
  the nightly job over those invoices' days: read again, reconciled, alerted, repairable
  within minutes instead of the next night (`sync/books_changes.py`).
- `webhooks_deliver_changes` on `order_changes` is the webhooks' dead-man switch: when the
  polling path keeps finding changes no webhook delivered, deliveries have stopped.

All of it is active only with `webhooks.enabled` in the catalog.
"""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit import http_metadata
from integrations_pipelines.defs.kit.changed_days import remembered_changes, run_requests
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)
from integrations_pipelines.defs.shopify_to_quickbooks.change_capture import (
    ACTIVE,
    CHANGES_KEY,
    resync_metadata,
)
from integrations_pipelines.defs.shopify_to_quickbooks.steps import (
    CATALOG,
    NAME,
    OWNERS,
    TAGS,
)
from integrations_pipelines.state import cursors
from integrations_pipelines.sync.books_changes import (
    InvoiceChange,
    cdc_changes,
    days_to_reconcile,
    notified_changes,
)
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.webhooks.coverage import webhook_coverage
from integrations_pipelines.webhooks.drain import claim, drain_shopify, inbox_state, mark

__all__ = ["WEBHOOKS_KEY", "books_changed_sensor", "shopify_to_quickbooks_webhooks_job",
           "webhook_deliveries", "webhook_inbox_sensor", "webhooks_deliver_changes"]

WEBHOOKS_KEY = dg.AssetKey([NAME, "webhook_deliveries"])
OPTIONS = CATALOG.webhooks
INBOX_CHECK = "webhook_inbox_keeps_up"
CDC_FEED = "quickbooks.invoices.cdc"
CDC_HISTORY = timedelta(days=29)  # Intuit keeps 30 days of changes
STOPPED_CAUSE = (
    "Webhook deliveries have stopped while the polling path still finds changes. Check, in "
    "order: the receiver is up and reachable from the internet (GET /healthz); the Shopify "
    "subscription still exists (GET /admin/api/<version>/webhooks.json; Shopify removes one "
    "after repeated failed deliveries); the receiver's log shows no 401s (a secret rotated on "
    "one side only: SHOPIFY_WEBHOOK_SECRETS must hold the app's current secret). The books "
    "stay right meanwhile through polling; see docs/RUNBOOK.md, \"Webhooks\".")


@dg.asset(
    key=WEBHOOKS_KEY,
    group_name=NAME,
    pool="quickbooks",
    kinds={"shopify", "quickbooks", "postgres"},
    owners=OWNERS,
    tags=TAGS,
    check_specs=[dg.AssetCheckSpec(
        INBOX_CHECK, asset=WEBHOOKS_KEY,
        description="After the drain, the webhook inbox holds fewer than "
        "webhooks.inbox_warn_depth pending deliveries and none older than "
        "webhooks.inbox_warn_age_minutes: the drain keeps up with the receiver.")],
    description="Shopify order webhooks taken from the receiver's inbox (`webhook_inbox`), "
    "newest version per order, stored in `raw_records` and re-synced into their "
    "invoices through the nightly run's write path. Metadata: inbox depth and age.",
)
def webhook_deliveries(context: dg.AssetExecutionContext, store: IntegrationStore,
                       shopify: ShopifyResource, quickbooks: QuickBooksResource,
                       ) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster: bare class
    engine = store.engine()
    metrics = HttpMetrics()
    source = shopify.client(metrics, store, context.run_id, CATALOG.shopify.api_version)
    books = quickbooks.client(metrics, store, context.run_id)
    today = datetime.now(ZoneInfo(CATALOG.timezone)).date()
    with vendor_failures("processing Shopify webhook deliveries"), source.http, books.http:
        outcome = drain_shopify(engine, source, InvoiceSync(engine, books, CATALOG),
                                connection=OPTIONS.shopify_connection, first_open_day=today,
                                run_id=context.run_id)
    with engine.connect() as conn:
        state = inbox_state(conn, "shopify", OPTIONS.shopify_connection)
    age = state.oldest_age_seconds(datetime.now(UTC))
    behind = (state.pending >= OPTIONS.inbox_warn_depth
              or age >= OPTIONS.inbox_warn_age_minutes * 60)
    context.log.info(f"{outcome.deliveries} deliveries for {outcome.orders} orders "
                     f"({outcome.reread} re-read, {outcome.gone} gone); inbox now "
                     f"{state.pending} pending")
    inbox = {"inbox_pending": state.pending, "inbox_oldest_pending_age_s": round(age, 1),
             "inbox_malformed": state.malformed, "inbox_ignored": state.ignored}
    return dg.MaterializeResult(
        metadata={
            "deliveries_processed": outcome.deliveries,
            "orders": outcome.orders,
            "orders_reread": outcome.reread,
            "orders_gone": outcome.gone,
            "orders_dead_lettered": outcome.extraction.dead_lettered,
            **inbox,
            **resync_metadata(context, outcome.changes, "webhook"),
            **http_metadata(metrics),
        },
        check_results=[dg.AssetCheckResult(
            check_name=INBOX_CHECK, passed=not behind, severity=dg.AssetCheckSeverity.WARN,
            description=None if not behind else (
                f"{state.pending} deliveries wait in the inbox, the oldest for "
                f"{age / 60:.0f} min: the drain is failing or cannot keep up (see "
                "docs/RUNBOOK.md, \"A growing webhook inbox\")"),
            metadata=inbox)],
    )


shopify_to_quickbooks_webhooks_job = dg.define_asset_job(
    f"{NAME}_webhooks_job",
    selection=dg.AssetSelection.assets(WEBHOOKS_KEY),
    description="Drain the webhook inbox: re-sync the orders Shopify pushed. Launched by "
    "webhook_inbox_sensor.",
    tags={"integration": NAME},
)


@dg.sensor(
    name="webhook_inbox_sensor",
    job=shopify_to_quickbooks_webhooks_job,
    minimum_interval_seconds=OPTIONS.drain_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every webhooks.drain_seconds: launches one drain run when Shopify "
    "deliveries wait in the inbox; never two at once.",
)
def webhook_inbox_sensor(context: dg.SensorEvaluationContext,
                         store: IntegrationStore) -> dg.RunRequest | dg.SkipReason:
    if not OPTIONS.enabled:
        return dg.SkipReason("webhooks are not enabled in the catalog")
    active = context.instance.get_runs(dg.RunsFilter(
        job_name=shopify_to_quickbooks_webhooks_job.name, statuses=ACTIVE), limit=1)
    if active:
        return dg.SkipReason(f"drain run {active[0].run_id[:8]} is still going")
    with store.engine().connect() as conn:
        state = inbox_state(conn, "shopify", OPTIONS.shopify_connection)
    if not state.pending:
        return dg.SkipReason("the webhook inbox is empty")
    return dg.RunRequest(tags={"webhooks": f"{state.pending} pending"})


@dg.asset_check(
    asset=CHANGES_KEY,
    name="webhooks_deliver_changes",
    description="The webhooks' dead-man switch: of the orders that changed over the last "
    "webhooks.coverage_window_minutes (since the first delivery ever stored), at least "
    "webhooks.coverage_min_share arrived by webhook too. Fails (WARN) when deliveries "
    "stopped: subscription removed, receiver down, a secret rotated on one side only. "
    "Polling keeps the books right meanwhile.",
)
def webhooks_deliver_changes(store: IntegrationStore) -> dg.AssetCheckResult:
    if not OPTIONS.enabled:
        return dg.AssetCheckResult(passed=True, metadata={"webhooks_enabled": False},
                                   description="webhooks are not enabled in the catalog")
    until = datetime.now(UTC) - timedelta(minutes=OPTIONS.coverage_grace_minutes)
    with store.engine().connect() as conn:
        seen = webhook_coverage(conn, since=until - timedelta(
            minutes=OPTIONS.coverage_window_minutes), until=until,
            connection=OPTIONS.shopify_connection)
    stopped = (seen.changed >= OPTIONS.coverage_min_changes
               and seen.delivered_share < OPTIONS.coverage_min_share)
    return dg.AssetCheckResult(
        passed=not stopped, severity=dg.AssetCheckSeverity.WARN,
        description=None if not stopped else (
            f"{seen.undelivered} of {seen.changed} orders changed since "
            f"{seen.since:%H:%M} UTC reached us only by polling, not by webhook"),
        metadata={"webhooks_enabled": True, "orders_changed": seen.changed,
                  "undelivered": seen.undelivered,
                  "delivered_share": round(seen.delivered_share, 3),
                  "undelivered_examples": dg.MetadataValue.json(list(seen.examples)),
                  **({"likely_cause": STOPPED_CAUSE} if stopped else {})})


@dg.sensor(
    name="books_changed_sensor",
    job_name=f"{NAME}_job",  # the kit's nightly job of this pair
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Invoices someone else changed in QuickBooks (its webhooks; its "
    "ChangeDataCapture feed every webhooks.cdc_minutes as the safety net) launch the "
    "nightly job over their days, so the reconciliation flags a hand edit within minutes.",
)
def books_changed_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                         quickbooks: QuickBooksResource) -> dg.SensorResult | dg.SkipReason:
    if not OPTIONS.enabled:
        return dg.SkipReason("webhooks are not enabled in the catalog")
    engine = store.engine()
    now = datetime.now(UTC)
    remembered = remembered_changes(context.cursor, now)
    requests: list[dg.RunRequest] = []
    with engine.connect() as conn, conn.begin():
        rows = claim(conn, "quickbooks", OPTIONS.quickbooks_connection, 500,
                     received_before=now - timedelta(seconds=OPTIONS.settle_seconds))
        realm = quickbooks.connection_settings().realm_id if rows else ""
        changes: list[InvoiceChange] = []
        outcomes: dict[int, str] = {}
        for row in rows:
            try:
                found = notified_changes(row.body, realm)
            except (ValueError, AttributeError) as error:
                outcomes[row.id] = f"not a notification this integration reads: {error}"
                continue
            changes.extend(found)
            outcomes[row.id] = f"{len(found)} invoice changes read"
        requests += run_requests(days_to_reconcile(conn, NAME, changes), remembered,
                                 source="webhook", destination="QuickBooks",
                                 run_key_prefix="books-changed")
        mark(conn, outcomes)
    with engine.connect() as conn:
        cdc = cursors.get(conn, NAME, CDC_FEED)
    if cdc is None or now - cdc.advanced_at >= timedelta(minutes=OPTIONS.cdc_minutes):
        since = max(cdc.position if cdc else now - timedelta(minutes=OPTIONS.cdc_minutes),
                    now - CDC_HISTORY)
        try:
            client = quickbooks.client(HttpMetrics(), store, None)
            with client.http:
                invoices = client.changed_invoices(since)
        except Exception as error:  # the notifications' runs must still be launched
            context.log.warning(f"ChangeDataCapture failed, retried next tick: {error}")
        else:
            with engine.begin() as conn:
                requests += run_requests(days_to_reconcile(conn, NAME, cdc_changes(invoices)),
                                         remembered, source="ChangeDataCapture",
                                         destination="QuickBooks",
                                         run_key_prefix="books-changed")
                cursors.advance(conn, NAME, CDC_FEED, now - timedelta(minutes=1), None)
    cursor = json.dumps({"requested": remembered})
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason(
            f"{len(rows)} QuickBooks notifications, no invoice changed by someone else"),
            cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
