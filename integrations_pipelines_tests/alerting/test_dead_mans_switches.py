"""The switches that fire when nothing happens, driven by Dagster's own daemons on the project's
code location: the scheduler skips the nightly tick (no run), and the freshness daemon finds
the extracted assets stale. Each raises one alert, and the all-clear once work resumes."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import dagster as dg
from dagster._core.test_utils import freeze_time
from dagster._daemon.freshness import FreshnessDaemon
from dagster._scheduler.scheduler import launch_scheduled_runs

from integrations_pipelines.alerts.incidents import IncidentManager
from integrations_pipelines.catalog import integration, load_catalog
from integrations_pipelines.defs.alerting.schedules import NO_TICK
from integrations_pipelines_tests.alerting.conftest import CHANNEL, Daemon, daemon_workspace

SCHEDULE = "shopify_to_quickbooks_job_schedule"
ORDERS = dg.AssetKey(["shopify", "orders"])
INVOICES = dg.AssetKey(["quickbooks", "invoices"])
CHANGES = dg.AssetKey(["shopify_to_quickbooks", "order_changes"])


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def scheduler_tick(workspace, moment: datetime) -> None:
    """One iteration of Dagster's scheduler daemon at `moment`."""
    with freeze_time(moment):
        list(launch_scheduled_runs(workspace, logging.getLogger("scheduler"), moment, {}))


def freshness_evaluator(workspace, daemon: Daemon):
    """One iteration of Dagster's freshness daemon, then the alert sensor, at a moment."""
    freshness = FreshnessDaemon()

    def evaluate(moment: datetime) -> None:
        with freeze_time(moment):
            list(freshness.run_iteration(workspace))
            daemon.tick("freshness_alert_sensor")

    return evaluate


def texts(messages: list[dict]) -> list[str]:
    return [m["text"].split(" (open for")[0] for m in messages]


def test_missed_schedule_tick_alerts_once_then_resolves_when_a_run_appears(
        sandboxes, queued_instance, posted):
    env = sandboxes([])
    daemon = Daemon(env.defs, queued_instance)
    with daemon_workspace(queued_instance, env.environment) as workspace:
        scheduler_tick(workspace, at(2026, 10, 1, 1, 0))  # the daemon starts the schedule
        with freeze_time(at(2026, 10, 1, 1, 0)):
            daemon.arm("missed_schedule_sensor")
        # 02:15, the first night: no day is complete yet, so the schedule rightly skips its
        # tick, and that is not a missed tick (no partition to run; nor are the ticks of a
        # pair whose partitions start later).
        scheduler_tick(workspace, at(2026, 10, 1, 2, 15, 20))
        for minute in (40, 50, 55):
            with freeze_time(at(2026, 10, 1, 2, minute)):
                daemon.tick("missed_schedule_sensor")
        assert posted.all() == []
        # The second night the scheduler daemon is down: no tick at all.
        with freeze_time(at(2026, 10, 2, 2, 40)):  # within the grace period: patience
            daemon.tick("missed_schedule_sensor")
        assert posted.all() == []
        for minute in (50, 55):
            with freeze_time(at(2026, 10, 2, 2, minute)):
                daemon.tick("missed_schedule_sensor")
        [missed] = posted.all()
        assert missed["channel_name"] == CHANNEL
        assert missed["text"] == (
            ":rotating_light: CRITICAL shopify_to_quickbooks: Schedule missed: "
            "shopify_to_quickbooks_job_schedule did not start shopify_to_quickbooks_job for its "
            "2026-10-02 02:15 UTC tick")
        # Only the pairs whose partitions exist by then: not Xero's (it starts in December).
        opened = IncidentManager(env.resources["store"].engine()).open_incidents()
        assert {(i.kind, i.subject) for i in opened if i.kind == "schedule_missed"} == {
            ("schedule_missed", f"schedule={name}_job_schedule")
            for name, entry in load_catalog().items()
            if entry.partitions_start < date(2026, 10, 2)}
        assert integration("shopify_to_xero").partitions_start > date(2026, 10, 2)
        sections = [b["text"]["text"] for b in missed["blocks"]
                    if b["type"] == "section" and "text" in b]
        assert f"*Likely cause:* {NO_TICK}" in sections
        [counts] = [b["fields"] for b in missed["blocks"] if "fields" in b]
        assert [f["text"] for f in counts] == [
            "*schedule:* shopify_to_quickbooks_job_schedule",
            "*job:* shopify_to_quickbooks_job", "*tick:* 2026-10-02 02:15 UTC",
            "*minutes_overdue:* 35", "*schedule_status:* running (by default)",
            "*last_run:* none"]

        # The next night the scheduler creates the run (queued): the switch is green again.
        scheduler_tick(workspace, at(2026, 10, 3, 2, 15, 20))
        [run] = queued_instance.get_run_records()
        assert run.dagster_run.tags["dagster/schedule_name"] == SCHEDULE
        with freeze_time(at(2026, 10, 3, 2, 50)):
            daemon.tick("missed_schedule_sensor")
    assert texts(posted.all()[1:]) == [
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Schedule missed: "
        "shopify_to_quickbooks_job_schedule started shopify_to_quickbooks_job for its "
        "2026-10-03 02:15 UTC tick"]


def test_stale_extracted_assets_alert_once_then_resolve(sandboxes, dagster_instance, posted):
    env = sandboxes([])
    daemon = Daemon(env.defs, dagster_instance)
    with daemon_workspace(dagster_instance, env.environment) as workspace:
        evaluate = freshness_evaluator(workspace, daemon)

        with freeze_time(at(2026, 11, 3, 2, 20)):  # the nightly run of Nov 3 lands
            for key in (ORDERS, INVOICES):
                dagster_instance.report_runless_asset_event(
                    dg.AssetMaterialization(key, partition="2026-11-02"))
        evaluate(at(2026, 11, 3, 9, 0))
        evaluate(at(2026, 11, 4, 4, 0))  # before the deadline: still fresh
        assert posted.all() == []
        # Nov 4, 04:15: the night's partition has not landed.
        evaluate(at(2026, 11, 4, 4, 20))
        evaluate(at(2026, 11, 4, 4, 30))
        assert sorted(texts(posted.all())) == [
            ":rotating_light: CRITICAL shopify_to_quickbooks: Freshness: quickbooks/invoices "
            "was last updated 26.0 hours ago, 2026-11-03 02:20 UTC (due every day between "
            "02:15 and 04:15 UTC)",
            ":rotating_light: CRITICAL shopify_to_quickbooks: Freshness: shopify/orders was "
            "last updated 26.0 hours ago, 2026-11-03 02:20 UTC (due every day between 02:15 "
            "and 04:15 UTC)",
        ]
        with freeze_time(at(2026, 11, 4, 5, 0)):  # the late run lands
            for key in (ORDERS, INVOICES):
                dagster_instance.report_runless_asset_event(
                    dg.AssetMaterialization(key, partition="2026-11-03"))
        evaluate(at(2026, 11, 4, 5, 1))
    assert sorted(texts(posted.all()[2:])) == [
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Freshness: quickbooks/invoices is "
        "fresh again",
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Freshness: shopify/orders is fresh "
        "again",
    ]


def test_a_change_feed_that_stops_advancing_alerts_then_resolves(
        sandboxes, dagster_instance, posted):
    env = sandboxes([])
    daemon = Daemon(env.defs, dagster_instance)
    with daemon_workspace(dagster_instance, env.environment) as workspace:
        evaluate = freshness_evaluator(workspace, daemon)

        with freeze_time(at(2026, 11, 5, 9, 0)):  # the last change-capture run that worked
            dagster_instance.report_runless_asset_event(dg.AssetMaterialization(CHANGES))
        evaluate(at(2026, 11, 5, 11, 59))
        assert [t for t in texts(posted.all()) if "order_changes" in t] == []
        evaluate(at(2026, 11, 5, 12, 5))  # three hours without the cursor moving
        [alert] = [m for m in posted.all() if "order_changes" in m["text"]]
        assert alert["text"].startswith(
            ":rotating_light: CRITICAL shopify_to_quickbooks: Freshness: "
            "shopify_to_quickbooks/order_changes was last updated 3.1 hours ago")
        assert any("its sensor is off, the daemon is down" in b["text"]["text"]
                   for b in alert["blocks"] if b["type"] == "section" and "text" in b)
        with freeze_time(at(2026, 11, 5, 12, 20)):  # the sensor is back: a run lands
            dagster_instance.report_runless_asset_event(dg.AssetMaterialization(CHANGES))
        evaluate(at(2026, 11, 5, 12, 21))
    assert [t for t in texts(posted.all()) if "order_changes" in t][-1] == (
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Freshness: "
        "shopify_to_quickbooks/order_changes is fresh again")
