"""A backfill runs one day per run, under Dagster's own backfill daemon: each day's figures are
its own (the UI's per-partition plots are true), they sum to the whole, and a run holds one
day's orders whatever the backfill's length."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._daemon.backfill import execute_backfill_iteration

from integrations_pipelines import local_postgres
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.settings import dagster_storage_url
from integrations_pipelines_tests.alerting.conftest import daemon_workspace

START, DAYS = date(2026, 11, 2), 7
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
STEPS = [dg.AssetKey(["shopify", "orders"]),
         dg.AssetKey(["shopify_to_quickbooks", "invoice_sync"]),
         dg.AssetKey(["quickbooks", "invoices"])]


def _day(order: dict) -> str:
    """The order's partition: its creation day in the catalog's timezone (UTC)."""
    return datetime.fromisoformat(order["created_at"]).astimezone(UTC).date().isoformat()


@pytest.fixture
def executing_instance(pg_base_url: str) -> Iterator[dg.DagsterInstance]:
    """An instance on PostgreSQL that executes a launched run at once, in this process."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    url = local_postgres.ensure_database(pg_base_url, name)
    with dg.instance_for_test(
            overrides={"storage": {"postgres": {"postgres_url": dagster_storage_url(url)}}},
            synchronous_run_launcher=True, synchronous_run_coordinator=True) as instance:
        yield instance
    local_postgres.drop_database(pg_base_url, name)


def test_a_seven_day_backfill_is_seven_runs_with_their_own_figures(
        sandboxes, executing_instance) -> None:
    shop = generate_shop(seed=23, start=START, days=DAYS, orders_per_day=12)
    # Day n keeps 12 - n orders, so every day's figure differs from every other's.
    kept: Counter[str] = Counter()
    orders = []
    for order in shop:
        day = _day(order)
        if kept[day] < 12 - (date.fromisoformat(day) - START).days:
            kept[day] += 1
            orders.append(order)
    env = sandboxes(orders)
    days = [(START + timedelta(days=n)).isoformat() for n in range(DAYS)]
    instance = executing_instance
    with daemon_workspace(instance, env.environment) as workspace:
        graph = workspace.create_request_context().asset_graph
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id="seven-days", asset_graph=graph, partition_names=days,
            asset_selection=STEPS, backfill_timestamp=time.time(), tags={},
            dynamic_partitions_store=instance, all_partitions=False, title=None,
            # Steps in the run's process: the backfill's runs, not the executor, are under
            # test (the default executor would start a process per step, ~25 s a run).
            description=None, run_config={"execution": {"config": {"in_process": {}}}})
        instance.add_backfill(backfill)
        for _ in range(20):  # daemon ticks until the backfill is done
            list(execute_backfill_iteration(workspace, logging.getLogger("backfill")))
            if instance.get_backfill("seven-days").status != BulkActionStatus.REQUESTED:
                break
    assert instance.get_backfill("seven-days").status == BulkActionStatus.COMPLETED_SUCCESS

    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": "seven-days"}))
    # One run per day: a range of one partition each.
    assert sorted((r.tags[RANGE_START], r.tags[RANGE_END]) for r in runs) == [
        (day, day) for day in days]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)

    per_day: dict[str, int] = {}
    for day in days:
        [event] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=STEPS[0], asset_partitions=[day]), limit=1).records
        per_day[day] = event.asset_materialization.metadata["orders_extracted"].value
    created = Counter(_day(o) for o in orders)
    assert per_day == {day: created[day] for day in days}  # each day its own figure
    assert len(set(per_day.values())) == DAYS  # not the whole range's total on every day
    assert sum(per_day.values()) == len(orders)
