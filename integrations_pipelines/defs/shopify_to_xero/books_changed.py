"""Dagster wiring of the Xero pair's change path: a bookkeeper's edit in Xero is read back
and reconciled within minutes, not the next night.

`<pair>_books_changed_sensor` takes the receiver's pending Xero deliveries of the entry's
`xero.webhook_connection`, re-reads the invoices they name for the entry's tenant, and
every `xero.books_changes_minutes` also reads what changed since its cursor with
`If-Modified-Since` (invoices and credit notes: the safety net for lost events, and the
only news of credit notes). Changes someone else made (later than our last write, by the
ledger) launch the pair's nightly job over their days (read back, reconciled, alerted),
or its repair job with `xero.repair_changed_books`. A delivery is marked processed only in
the transaction that computed its runs: when Xero cannot be read it stays pending and is
taken again next tick; nothing is dropped. (`sync/xero_books_changes.py`)
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.defs.kit.changed_days import remembered_changes, run_requests
from integrations_pipelines.defs.kit.jobs import repair_job_name
from integrations_pipelines.defs.resources import IntegrationStore, XeroResource
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.state import cursors
from integrations_pipelines.sync.books_changes import InvoiceChange, days_to_reconcile
from integrations_pipelines.sync.xero_books_changes import (
    notified_invoice_ids,
    polled_changes,
    reread_changes,
)
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.webhooks.drain import claim, mark

__all__ = ["FEED", "books_changed_sensor"]

FEED = "xero.books.modified"
FIRST_LOOK = timedelta(hours=1)  # how far back the first If-Modified-Since read looks


def _from_webhooks(conn: sa.Connection, entry: ShopifyToXeroEntry, xero: XeroResource,
                   store: IntegrationStore) -> tuple[list[InvoiceChange], int]:
    """The changes the pending deliveries name, re-read from Xero; the deliveries are
    marked in `conn`'s transaction (rolled back with it if Xero cannot be read)."""
    rows = claim(conn, "xero", entry.xero.webhook_connection, 500)
    if not rows:
        return [], 0
    tenant = xero.connection_settings().tenant_id
    outcomes: dict[int, str] = {}
    ids: list[str] = []
    for row in rows:
        try:
            named = notified_invoice_ids(row.body, tenant)
        except (ValueError, AttributeError) as error:
            outcomes[row.id] = f"not a Xero delivery this integration reads: {error}"
            continue
        ids += named
        outcomes[row.id] = f"{len(named)} invoices of tenant {tenant} re-read"
    changes: list[InvoiceChange] = []
    if ids:
        client = xero.client(HttpMetrics(), store, None)
        with client.http:
            changes = reread_changes(client, ids)
    mark(conn, outcomes)
    return changes, len(rows)


def books_changed_sensor(entry: ShopifyToXeroEntry) -> dg.SensorDefinition:
    """The entry's sensor: Xero's webhooks and If-Modified-Since reads into runs."""
    options = entry.xero
    job_name = repair_job_name(entry.name) if options.repair_changed_books else f"{entry.name}_job"

    @dg.sensor(
        name=f"{entry.name}_books_changed_sensor", job_name=job_name,
        minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"store", "xero"},
        description="Invoices someone else changed in Xero (its webhooks; every "
        "xero.books_changes_minutes an If-Modified-Since read of invoices and credit notes) "
        f"launch {job_name} over their days, so the reconciliation flags a hand edit within "
        "minutes.")
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        store: IntegrationStore = context.resources.store
        xero: XeroResource = context.resources.xero
        engine = store.engine()
        now = datetime.now(UTC)
        remembered = remembered_changes(context.cursor, now)
        requests: list[dg.RunRequest] = []
        with engine.connect() as conn, conn.begin():
            changes, deliveries = _from_webhooks(conn, entry, xero, store)
            requests += run_requests(days_to_reconcile(conn, entry.name, changes), remembered,
                                     source="webhook", destination="Xero",
                                     run_key_prefix="xero-books-changed",
                                     first_day=entry.partitions_start)
        with engine.connect() as conn:
            cursor = cursors.get(conn, entry.name, FEED)
        minutes = options.books_changes_minutes
        if minutes and (cursor is None or now - cursor.advanced_at >= timedelta(minutes=minutes)):
            since = cursor.position if cursor is not None else now - FIRST_LOOK
            try:
                client = xero.client(HttpMetrics(), store, None)
                with client.http, engine.connect() as conn:
                    polled = polled_changes(conn, entry.name, client, since)
            except Exception as error:  # the webhooks' runs must still be launched
                context.log.warning(f"If-Modified-Since read of Xero failed, retried next "
                                    f"tick: {error}")
            else:
                with engine.begin() as conn:
                    requests += run_requests(days_to_reconcile(conn, entry.name, polled),
                                             remembered, source="If-Modified-Since",
                                             destination="Xero",
                                             run_key_prefix="xero-books-changed",
                                             first_day=entry.partitions_start)
                    # A minute of overlap: a change committed while we read is read again.
                    cursors.advance(conn, entry.name, FEED, now - timedelta(minutes=1), None)
        new_cursor = json.dumps({"requested": remembered})
        if not requests:
            return dg.SensorResult(skip_reason=dg.SkipReason(
                f"{deliveries} Xero deliveries, no invoice changed by someone else"),
                cursor=new_cursor)
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)

    return sensor
