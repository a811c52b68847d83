"""Expected volume as a dead-man's switch: a B2B shop that stops producing orders on a normal
Wednesday, after weeks of history, raises one alert that resolves when the orders arrive; its
quiet weekend and a configured holiday raise nothing. The destination falling behind the
source fails its own check."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
import httpx
import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.defs.alerting.volume import destination_behind_result
from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.defs.shopify_to_quickbooks.volume import SPEC
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.state import raw
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.vendors.quickbooks.records import invoice_record, invoices_kind
from integrations_pipelines.vendors.shopify.records import ORDERS as SHOP_ORDERS
from integrations_pipelines_tests.alerting.conftest import CHANNEL, UI, Daemon
from integrations_pipelines_tests.builders import booked_invoice
from integrations_pipelines_tests.support import run_partition

NAME = "shopify_to_quickbooks"
ORDERS = dg.AssetKey(["shopify", "orders"])
WEDNESDAY = date(2026, 11, 11)
SATURDAY = date(2026, 11, 14)
HISTORY_START = date(2026, 10, 5)
OUTAGE = date(2026, 10, 21)  # a Wednesday with no orders: the median must not care
CHECK = "order_volume_matches_baseline"
SENSORS = ("asset_check_alert_sensor", "open_incidents_sensor")


def weekday_count(day: date) -> int:
    """A B2B shop: about 40 orders on weekdays, none on weekends."""
    if day.weekday() >= 5 or day == OUTAGE:
        return 0
    return 36 + day.day % 9


def order(order_id: int, day: date, created: datetime) -> raw.RawRecord:
    """A stored order as extraction leaves it (only what the volume checks read)."""
    return raw.RawRecord(record_key=str(order_id), business_date=day, version=created,
                         facts={"created_at": created.isoformat()}, payload={"id": order_id})


def seed_history(engine: sa.Engine, instance: dg.DagsterInstance, end: date) -> None:
    """Weeks of extracted days before `end`, as earlier nightly runs left them: the raw store's
    orders and a materialization of each day's partition (weekends too, with no orders)."""
    order_id = 1
    day = HISTORY_START
    while day < end:
        created = datetime.combine(day, time(12), UTC)
        rows = []
        for _ in range(weekday_count(day)):
            rows.append(order(order_id, day, created))
            order_id += 1
        with engine.begin() as conn:
            raw.replace_window(conn, SHOP_ORDERS, day, day + timedelta(days=1), rows, None)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(ORDERS, partition=day.isoformat()))
        day += timedelta(days=1)


def evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [found] = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK]
    return found


def test_shop_that_stops_producing_orders_alerts_once_then_resolves(
        sandboxes, engine, dagster_instance, posted):
    env = sandboxes([])  # the shop took no order on Wednesday
    seed_history(engine, dagster_instance, WEDNESDAY)
    daemon = Daemon(env.defs, dagster_instance)
    daemon.arm(*SENSORS)

    result = run_partition(env.defs, dagster_instance, WEDNESDAY.isoformat())
    assert result.success  # the run itself is fine: only the switch notices
    check = evaluation(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    # The last five Wednesdays, newest first; the outage's zero does not move the median.
    assert check.metadata["samples"].value == [40, 37, 0, 41, 43]
    for _ in range(2):
        for name in SENSORS:
            daemon.tick(name)
    [message] = posted.all()
    assert message["channel_name"] == CHANNEL
    assert message["text"] == (
        ":rotating_light: CRITICAL shopify_to_quickbooks: Volume: order_volume_matches_baseline "
        "failed on shopify/orders for 2026-11-11: 0 records is 0% of the 40 expected (the "
        "median of the last 5 Wednesdays); the alert threshold is 50%")
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"
             and "text" in b]
    assert "*Likely cause:* the shop stopped taking orders, or the extraction cannot see them " \
           "(credentials, filters, a partition computed in the wrong timezone)" in texts
    assert texts[-1] == (
        f"<{UI}/runs/{result.run_id}|Open run {result.run_id[:8]}> · "
        f"<{UI}/assets/shopify/orders|Open asset shopify/orders> · "
        "<docs/RUNBOOK.md#volume|Runbook: Volume>")
    [counts] = [b["fields"] for b in message["blocks"] if "fields" in b]
    assert [f["text"] for f in counts] == ["*actual:* 0", "*days_failing:* 1",
                                           "*expected:* 40.0", "*ratio:* 0.0"]

    # The orders were there after all (a late import in the shop): the re-run is green.
    late = generate_shop(seed=21, start=WEDNESDAY, days=1, orders_per_day=39)
    httpx.post(f"{env.shop_url}/_sandbox/orders", json={"orders": late},
               timeout=10).raise_for_status()
    result = run_partition(env.defs, dagster_instance, WEDNESDAY.isoformat())
    assert evaluation(result).passed
    for name in SENSORS:
        daemon.tick(name)
    assert [m["text"].split(" (open for")[0] for m in posted.all()[1:]] == [
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Volume: "
        "order_volume_matches_baseline passes on shopify/orders for 2026-11-11"]


def test_quiet_weekend_and_configured_holiday_raise_nothing(
        sandboxes, engine, dagster_instance, posted, monkeypatch):
    env = sandboxes([])
    seed_history(engine, dagster_instance, SATURDAY)
    daemon = Daemon(env.defs, dagster_instance)
    daemon.arm(*SENSORS)

    weekend = evaluation(run_partition(env.defs, dagster_instance, SATURDAY.isoformat()))
    assert weekend.passed
    assert weekend.description == "quiet day: Saturdays usually have no records"
    monkeypatch.setattr(integration(NAME), "holidays", [WEDNESDAY])
    holiday = evaluation(run_partition(env.defs, dagster_instance, WEDNESDAY.isoformat()))
    assert holiday.passed and holiday.description == "2026-11-11 is a configured holiday"
    monkeypatch.setattr(integration(NAME), "holidays", [])
    monkeypatch.setattr(integration(NAME), "quiet_weekdays", ["wednesday"])
    quiet = evaluation(run_partition(env.defs, dagster_instance, WEDNESDAY.isoformat()))
    assert quiet.passed
    assert quiet.description == "2026-11-11 is a configured quiet weekday (Wednesday)"

    for name in SENSORS:
        daemon.tick(name)
    assert posted.all() == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM incidents")).scalar_one() == 0


def test_destination_behind_source_fails_with_the_missing_count(engine):
    window = Window(datetime(2026, 11, 11, tzinfo=UTC), datetime(2026, 11, 12, tzinfo=UTC))
    created = datetime(2026, 11, 11, 9, tzinfo=UTC)
    orders = [order(n, WEDNESDAY, created) for n in range(1, 6)]
    invoices = [booked_invoice(f"S{n}", 10, Id=str(n), TxnDate="2026-11-11", SyncToken="0")
                for n in range(1, 4)]
    with engine.begin() as conn:
        raw.replace_window(conn, SHOP_ORDERS, WEDNESDAY, WEDNESDAY + timedelta(days=1), orders,
                           None)
        raw.replace_window(conn, invoices_kind("realm-1"), WEDNESDAY,
                           WEDNESDAY + timedelta(days=1), [invoice_record(i) for i in invoices],
                           None)
        behind = destination_behind_result(conn, SPEC, "realm-1", window)
        other_company = destination_behind_result(conn, SPEC, "realm-2", window)
        # An order with an open dead letter has its reason and replay path: accounted for.
        dead_letters.record(conn, dead_letters.DeadLetter(
            integration=NAME, source_id="4", business_date=WEDNESDAY, stage="map",
            reason_code="no_line_items", reason="the order has no line items",
            payload={"id": 4}))
        lettered = destination_behind_result(conn, SPEC, "realm-1", window)
    assert not behind.passed and behind.severity == dg.AssetCheckSeverity.ERROR
    assert behind.description == (
        "destination has 3 of 5 source records: 2 missing (tolerance 0)")
    figures = ("orders", "dead_lettered", "expected_invoices", "invoices", "missing")
    assert [behind.metadata[k].value for k in figures] == [5, 0, 5, 3, 2]
    assert [other_company.metadata[k].value for k in figures] == [5, 0, 5, 0, 5]
    assert [lettered.metadata[k].value for k in figures] == [5, 1, 4, 3, 1]
    assert not lettered.passed
