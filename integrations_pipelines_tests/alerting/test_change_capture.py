"""Changes after the day closes reach the books without a human: days after a partition ran,
the merchant refunds one order, cancels another and edits a third; the change sensor sees
them, one run re-syncs exactly those orders through the nightly write path, the day's
partition shows the new materialization, and the day then reconciles with nothing to do.
A cursor that stops moving is the change feed's dead-man switch."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg

from integrations_pipelines.defs.kit.jobs import rolling_ranges
from integrations_pipelines.defs.shopify_to_quickbooks.change_capture import CHANGES_KEY
from integrations_pipelines.defs.shopify_to_quickbooks.steps import CATALOG, SYNC_KEY
from integrations_pipelines.sandbox.shop_generator import edge_tags, generate_shop
from integrations_pipelines.state import cursors, raw
from integrations_pipelines.state.tables import change_cursors
from integrations_pipelines.sync.change_capture import FEED
from integrations_pipelines.vendors.shopify.records import ORDERS
from integrations_pipelines_tests.alerting.conftest import Daemon
from integrations_pipelines_tests.support import live_invoice, run_partition

DAY = date(2026, 11, 4)
SENSOR = "change_capture_sensor"
JOB = "shopify_to_quickbooks_changes_job"
NAME = "shopify_to_quickbooks"


def _run_request(daemon: Daemon) -> dg.RunRequest | None:
    data = daemon.tick(SENSOR)
    return data.run_requests[0] if data.run_requests else None


def _changes(result: dg.ExecuteInProcessResult) -> dg.AssetMaterialization:
    [found] = [m for m in result.asset_materializations_for_node(
        "shopify_to_quickbooks__order_changes") if m.asset_key == CHANGES_KEY]
    return found


def _launch(env, instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run what the sensor asked for, as the run launcher would."""
    job = env.defs.resolve_job_def(JOB)
    result = job.execute_in_process(instance=instance, tags=request.tags)
    assert result.success
    return result


def test_refund_cancel_and_edit_days_later_are_resynced_by_one_run(
        sandboxes, engine, dagster_instance) -> None:
    orders = [o for o in generate_shop(seed=8, start=DAY, days=1, orders_per_day=30)
              if not edge_tags(o) and o["financial_status"] == "paid"][:4]
    refunded, cancelled, edited, untouched = orders
    env = sandboxes(orders)
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    daemon = Daemon(env.defs, dagster_instance)
    first = _run_request(daemon)  # no cursor yet: the first capture starts the feed
    assert first is not None and first.tags["change_capture"] == "first"
    result = _launch(env, dagster_instance, first)
    # Nothing changed since the nightly run.
    assert _changes(result).metadata["orders_resynced"].value == 0
    assert _run_request(daemon) is None  # and the sensor agrees

    docs = {o["id"]: f"S{o['order_number']}" for o in orders}
    before = {oid: live_invoice(env.books, doc) for oid, doc in docs.items()}
    env.shop.refund_order(refunded["id"], "5.00")  # now, weeks after the order's day
    env.shop.cancel_order(cancelled["id"])
    env.shop.patch_order(edited["id"], {"email": "new.address@example.com"})
    time.sleep(CATALOG.change_capture.lag_seconds + 1)  # the feed reads up to now - lag

    request = _run_request(daemon)
    assert request is not None and request.tags["change_capture"] == "3 changed"
    result = _launch(env, dagster_instance, request)
    changes = _changes(result)
    assert changes.metadata["orders_changed"].value == 3
    assert (changes.metadata["invoices_updated"].value, changes.metadata["invoices_voided"].value,
            changes.metadata["invoices_created"].value) == (2, 1, 0)
    assert changes.metadata["days_touched"].value == {DAY.isoformat(): 3}

    after = {oid: live_invoice(env.books, doc) for oid, doc in docs.items()}
    now = env.shop.get_order(refunded["id"])["current_total_price_set"]["presentment_money"]
    assert Decimal(str(after[refunded["id"]]["TotalAmt"])) == Decimal(now["amount"])
    assert after[cancelled["id"]]["PrivateNote"].startswith("Voided")
    assert after[edited["id"]]["BillEmail"]["Address"] == "new.address@example.com"
    assert after[untouched["id"]]["SyncToken"] == before[untouched["id"]]["SyncToken"]
    with engine.connect() as conn:
        [stored] = raw.records_by_key(conn, ORDERS, [str(cancelled["id"])])
    assert stored.payload["cancelled_at"] is not None  # the raw store holds the new version

    # The day's history shows the change: its partition has a materialization of this run.
    [latest] = dagster_instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=SYNC_KEY, asset_partitions=[DAY.isoformat()]),
        limit=1).records
    assert latest.run_id == result.run_id
    assert latest.asset_materialization.metadata["invoices_updated"].value == 2

    # Tonight's run of that day again finds nothing to write, and the day reconciles.
    again = run_partition(env.defs, dagster_instance, DAY.isoformat())
    sync = again.asset_materializations_for_node("shopify_to_quickbooks__invoice_sync")[0]
    assert (sync.metadata["invoices_updated"].value, sync.metadata["invoices_voided"].value,
            sync.metadata["invoices_created"].value) == (0, 0, 0)
    checks = {c.check_name: c.passed for c in again.get_asset_check_evaluations()}
    assert checks["invoices_match_shopify_orders"]


def test_a_cursor_that_stopped_moving_gets_a_heartbeat_run_and_a_freshness_rule(
        sandboxes, engine, dagster_instance) -> None:
    env = sandboxes([])
    daemon = Daemon(env.defs, dagster_instance)
    _launch(env, dagster_instance, _run_request(daemon))
    assert _run_request(daemon) is None
    with engine.begin() as conn:  # the cursor last moved two hours ago
        conn.execute(change_cursors.update().values(
            advanced_at=datetime.now(UTC) - timedelta(hours=2)))
    request = _run_request(daemon)
    assert request is not None and request.tags["change_capture"] == "heartbeat"
    _launch(env, dagster_instance, request)
    with engine.connect() as conn:
        cursor = cursors.get(conn, NAME, FEED)
    assert cursor is not None and datetime.now(UTC) - cursor.advanced_at < timedelta(minutes=1)
    # Past the SLA without a materialization, Dagster's freshness daemon fails the asset and
    # freshness_alert_sensor raises the alert (as for every other stale asset).
    node = env.defs.resolve_asset_graph().get(CHANGES_KEY)
    assert node.freshness_policy_or_from_metadata.fail_window.to_timedelta() == timedelta(
        minutes=180)


def test_the_rolling_reconciliation_covers_the_days_before_yesterday_a_week_per_run() -> None:
    ranges = rolling_ranges(CATALOG, date(2026, 12, 4))
    assert ranges[0] == (date(2026, 10, 4), date(2026, 10, 10))
    assert ranges[-1][1] == date(2026, 12, 2) and len(ranges) == 9
    days = [first + timedelta(days=n) for first, last in ranges
            for n in range((last - first).days + 1)]
    assert len(days) == len(set(days)) == 60  # every day once, none twice
    assert all((last - first).days < 7 for first, last in ranges)
    assert rolling_ranges(CATALOG, date(2026, 10, 2)) == []  # only yesterday is closed


def test_the_rolling_schedule_asks_for_one_ranged_run_per_week() -> None:
    from integrations_pipelines.definitions import defs

    schedule = defs.resolve_schedule_def(
        "shopify_to_quickbooks_rolling_reconciliation_job_schedule")
    moment = datetime(2026, 12, 4, 3, 15, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=moment) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [(r.tags["dagster/asset_partition_range_start"],
             r.tags["dagster/asset_partition_range_end"]) for r in requests] == [
        (a.isoformat(), b.isoformat()) for a, b in rolling_ranges(CATALOG, date(2026, 12, 4))]
    assert len({r.run_key for r in requests}) == len(requests)
