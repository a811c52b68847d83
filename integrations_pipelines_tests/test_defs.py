"""The project's one Definitions object, snapshotted: what the code location declares.

The literal sets and dicts below are the snapshot, written out so that a review shows every
asset, check, job, schedule and sensor that appears, disappears or changes. Adding one means
updating them here, on purpose. Loading needs no database, network or environment variable
(settings are read when a resource is used, never at import).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from integrations_pipelines.catalog import integration
from integrations_pipelines.definitions import build_definitions, defs
from integrations_pipelines.defs.resources import IntegrationStore

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = "shopify_to_quickbooks"
STRIPE = "stripe_to_warehouse"
XERO = "shopify_to_xero"  # the same shop into Xero: its system assets take its name as prefix
IMPLICIT_ASSET_JOB = "__ASSET_JOB"  # Dagster's own job over all assets, not declared by us
FLAGSHIP_OWNERS = ["team:finance-data", "finance-data@example.com"]
DEFAULT_GROUP = "default"  # what Dagster calls the group of an asset given none

# asset key -> (group, kinds)
ASSETS: dict[str, tuple[str, set[str]]] = {
    "shopify/orders": ("shopify", {"shopify", "postgres"}),
    "shopify_to_quickbooks/invoice_sync": ("shopify_to_quickbooks", {"quickbooks", "postgres"}),
    "quickbooks/invoices": ("quickbooks", {"quickbooks", "postgres"}),
    "quickbooks/token_health": ("quickbooks", {"quickbooks", "postgres"}),
    "alerts/incidents": ("alerts", {"postgres", "slack"}),
    "shopify_to_quickbooks/order_changes": ("shopify_to_quickbooks",
                                            {"shopify", "quickbooks", "postgres"}),
    "shopify_to_quickbooks/webhook_deliveries": ("shopify_to_quickbooks",
                                                 {"shopify", "quickbooks", "postgres"}),
    **{f"stripe/{r}": ("stripe", {"stripe", "postgres"}) for r in (
        "balance_transactions", "charges", "refunds", "disputes", "payouts")},
    "stripe_to_warehouse/warehouse_load": ("stripe_to_warehouse", {"postgres"}),
    **{f"warehouse/stripe_{r}": ("warehouse", {"postgres"}) for r in (
        "balance_transactions", "charges", "refunds", "disputes", "payouts")},
    "warehouse/daily_revenue": ("warehouse", {"postgres"}),
    "stripe_to_warehouse/stripe_changes": ("stripe_to_warehouse", {"stripe", "postgres"}),
    "shopify_to_xero/shopify/orders": ("shopify", {"shopify", "postgres"}),
    "shopify_to_xero/invoice_sync": ("shopify_to_xero", {"xero", "postgres"}),
    "shopify_to_xero/xero/invoices": ("xero", {"xero", "postgres"}),
    "xero/token_health": ("xero", {"xero", "postgres"}),
}
STRIPE_OBJECTS = {f"stripe/{r}" for r in ("balance_transactions", "charges", "refunds",
                                          "disputes", "payouts")}
# The warehouse's Stripe tables, one asset each (one read-back step materializes the five).
STRIPE_TABLES = {f"warehouse/stripe_{r}" for r in ("balance_transactions", "charges",
                                                   "refunds", "disputes", "payouts")}

# The assets Dagster materializes (the others are observed by sensors), all of them
# daily-partitioned with the flagship integration's partitions, one run per day of a backfill.
FLAGSHIP_PARTITIONED_ASSETS = {
    "shopify/orders",
    "shopify_to_quickbooks/invoice_sync",
    "quickbooks/invoices",
}
# The Stripe -> warehouse pair's, on its own daily partitions (it starts later).
STRIPE_PARTITIONED_ASSETS = {*STRIPE_OBJECTS, "stripe_to_warehouse/warehouse_load",
                             *STRIPE_TABLES, "warehouse/daily_revenue"}
# The Shopify -> Xero pair's, from the day the move from QuickBooks starts.
XERO_PARTITIONED_ASSETS = {"shopify_to_xero/shopify/orders", "shopify_to_xero/invoice_sync",
                           "shopify_to_xero/xero/invoices"}
PARTITION_STARTS = {"2026-10-01": FLAGSHIP_PARTITIONED_ASSETS,
                    "2026-11-01": STRIPE_PARTITIONED_ASSETS,
                    "2026-12-01": XERO_PARTITIONED_ASSETS}
PARTITIONED_ASSETS = (FLAGSHIP_PARTITIONED_ASSETS | STRIPE_PARTITIONED_ASSETS
                      | XERO_PARTITIONED_ASSETS)

# asset key -> its upstream asset keys
DEPENDENCIES: dict[str, set[str]] = {
    "shopify/orders": set(),
    "shopify_to_quickbooks/invoice_sync": {"shopify/orders"},
    "quickbooks/invoices": {"shopify_to_quickbooks/invoice_sync"},
    "quickbooks/token_health": set(),
    "alerts/incidents": set(),
    "shopify_to_quickbooks/order_changes": set(),
    "shopify_to_quickbooks/webhook_deliveries": set(),
    **{key: set() for key in STRIPE_OBJECTS},
    "stripe_to_warehouse/warehouse_load": STRIPE_OBJECTS,
    **{table: {"stripe_to_warehouse/warehouse_load", table.replace("warehouse/stripe_",
                                                                   "stripe/")}
       for table in STRIPE_TABLES},
    "warehouse/daily_revenue": {"warehouse/stripe_balance_transactions"},
    "stripe_to_warehouse/stripe_changes": set(),
    "shopify_to_xero/shopify/orders": set(),
    "shopify_to_xero/invoice_sync": {"shopify_to_xero/shopify/orders"},
    "shopify_to_xero/xero/invoices": {"shopify_to_xero/invoice_sync"},
    "xero/token_health": set(),
}
# Materialized, not partitioned: change capture and the webhook drain (their runs report the
# days they touched on invoice_sync's partitions).
UNPARTITIONED_ASSETS = {"shopify_to_quickbooks/order_changes",
                        "shopify_to_quickbooks/webhook_deliveries",
                        "stripe_to_warehouse/stripe_changes"}

# "asset/key:check_name" -> blocking. The blocking ones are evaluated in their asset's own
# step and always report ERROR when they fail, so a broken promise stops the run before the
# next step; the others (expected volume, drift, token health) report WARN or ERROR and the
# run goes on, the failure becoming an incident through asset_check_alert_sensor.
CHECKS: dict[str, bool] = {
    # In Dagster only the read-back blocks; the earlier steps' blocking promises are the
    # read-back's to enforce once every check reported (defs/kit/verdict.py).
    "shopify/orders:orders_conform_to_contract": False,
    "shopify/orders:order_volume_matches_baseline": False,
    "shopify/orders:no_contract_drift": False,
    "shopify/orders:shopify_api_version_is_current": False,
    "shopify_to_quickbooks/invoice_sync:every_order_synced_or_dead_lettered": False,
    "shopify_to_quickbooks/invoice_sync:doc_numbers_free_of_foreign_invoices": False,
    "quickbooks/invoices:every_synced_order_has_one_invoice": True,
    "quickbooks/invoices:invoices_match_shopify_orders": True,
    "quickbooks/invoices:invoices_keep_up_with_orders": False,
    "quickbooks/invoices:no_contract_drift": False,
    "quickbooks/token_health:refresh_token_is_healthy": False,
    "shopify_to_quickbooks/order_changes:webhooks_deliver_changes": False,
    "shopify_to_quickbooks/webhook_deliveries:webhook_inbox_keeps_up": False,
    **{f"stripe/{r}:{c}": False for r in ("balance_transactions", "charges", "refunds",
                                          "disputes", "payouts")
       for c in (f"{r}_conform_to_contract", "stripe_api_version_is_current",
                 "stripe_answered_without_outage")},
    "stripe/balance_transactions:balance_transaction_volume_matches_baseline": False,
    "stripe/balance_transactions:no_contract_drift": False,
    "stripe_to_warehouse/warehouse_load:every_stripe_object_loaded_or_dead_lettered": False,
    **{f"{table}:rows_match_stripe_objects": True for table in STRIPE_TABLES},
    "warehouse/stripe_payouts:payouts_match_their_balance_transactions": True,
    "warehouse/stripe_balance_transactions:daily_totals_match_stripe_balance_transactions":
        True,
    "shopify_to_xero/shopify/orders:orders_conform_to_contract": False,
    "shopify_to_xero/shopify/orders:shopify_api_version_is_current": False,
    "shopify_to_xero/shopify/orders:order_volume_matches_baseline": False,
    "shopify_to_xero/xero/invoices:invoices_keep_up_with_orders": False,
    "shopify_to_xero/invoice_sync:every_order_booked_or_dead_lettered": False,
    "shopify_to_xero/xero/invoices:invoices_match_shopify_orders": True,
    "shopify_to_xero/xero/invoices:vat_per_rate_matches_shopify": False,
    "shopify_to_xero/xero/invoices:no_contract_drift": False,
    "xero/token_health:refresh_token_is_healthy": False,
}

# The checks the kit evaluates inside their asset's step (each pair's own, volume and drift):
# all of an asset's checks report whenever it materializes, over the run's partitions.
IN_STEP_CHECKS = {
    "shopify/orders": {"orders_conform_to_contract", "order_volume_matches_baseline",
                       "no_contract_drift", "shopify_api_version_is_current"},
    "shopify_to_quickbooks/invoice_sync": {"every_order_synced_or_dead_lettered",
                                           "doc_numbers_free_of_foreign_invoices"},
    "quickbooks/invoices": {"every_synced_order_has_one_invoice", "invoices_match_shopify_orders",
                            "invoices_keep_up_with_orders", "no_contract_drift"},
    "stripe/balance_transactions": {
        "balance_transactions_conform_to_contract", "stripe_api_version_is_current",
        "stripe_answered_without_outage", "balance_transaction_volume_matches_baseline",
        "no_contract_drift"},
    "stripe/payouts": {"payouts_conform_to_contract", "stripe_api_version_is_current",
                       "stripe_answered_without_outage"},
    "stripe_to_warehouse/warehouse_load": {"every_stripe_object_loaded_or_dead_lettered"},
    "warehouse/stripe_payouts": {"rows_match_stripe_objects",
                                 "payouts_match_their_balance_transactions"},
    "warehouse/stripe_balance_transactions": {
        "rows_match_stripe_objects", "daily_totals_match_stripe_balance_transactions"},
    "warehouse/daily_revenue": set(),
}

# job -> (assets it materializes, tags, daily-partitioned)
JOBS: dict[str, tuple[set[str], dict[str, str], bool]] = {
    "shopify_to_quickbooks_job": (
        {"shopify/orders", "shopify_to_quickbooks/invoice_sync", "quickbooks/invoices"},
        {"integration": "shopify_to_quickbooks"}, True),
    "shopify_to_quickbooks_repair_job": (
        {"quickbooks/invoices"},
        {"integration": "shopify_to_quickbooks"}, True),
    "shopify_to_quickbooks_reconciliation_sample_job": (set(), {}, False),
    "dead_letter_replay_job": (set(), {"kind": "replay", "integration": FLAGSHIP}, False),
    "shopify_to_quickbooks_changes_job": ({"shopify_to_quickbooks/order_changes"},
                                          {"integration": FLAGSHIP}, False),
    "shopify_to_quickbooks_rolling_reconciliation_job": (
        {"shopify/orders", "shopify_to_quickbooks/invoice_sync", "quickbooks/invoices"},
        {"integration": FLAGSHIP, "kind": "rolling_reconciliation"}, True),
    "shopify_to_quickbooks_webhooks_job": ({"shopify_to_quickbooks/webhook_deliveries"},
                                           {"integration": FLAGSHIP}, False),
    "stripe_to_warehouse_job": (STRIPE_PARTITIONED_ASSETS, {"integration": STRIPE}, True),
    "stripe_to_warehouse_repair_job": ({*STRIPE_TABLES, "warehouse/daily_revenue"},
                                       {"integration": STRIPE}, True),
    "stripe_to_warehouse_rolling_reconciliation_job": (
        STRIPE_PARTITIONED_ASSETS,
        {"integration": STRIPE, "kind": "rolling_reconciliation"}, True),
    "stripe_to_warehouse_reconciliation_sample_job": (set(), {}, False),
    "stripe_to_warehouse_changes_job": ({"stripe_to_warehouse/stripe_changes"},
                                        {"integration": STRIPE}, False),
    "shopify_to_xero_job": (XERO_PARTITIONED_ASSETS, {"integration": XERO}, True),
    "shopify_to_xero_repair_job": ({"shopify_to_xero/xero/invoices"},
                                   {"integration": XERO}, True),
    "shopify_to_xero_rolling_reconciliation_job": (
        XERO_PARTITIONED_ASSETS, {"integration": XERO, "kind": "rolling_reconciliation"}, True),
    "shopify_to_xero_reconciliation_sample_job": (set(), {}, False),
}

# schedule -> (cron, timezone, job)
SCHEDULES: dict[str, tuple[str, str, str]] = {
    "shopify_to_quickbooks_job_schedule": ("15 2 * * *", "UTC", "shopify_to_quickbooks_job"),
    "shopify_to_quickbooks_rolling_reconciliation_job_schedule": (
        "15 3 * * *", "UTC", "shopify_to_quickbooks_rolling_reconciliation_job"),
    "stripe_to_warehouse_job_schedule": ("0 4 * * *", "UTC", "stripe_to_warehouse_job"),
    "stripe_to_warehouse_rolling_reconciliation_job_schedule": (
        "0 5 * * *", "UTC", "stripe_to_warehouse_rolling_reconciliation_job"),
    "shopify_to_xero_job_schedule": ("45 2 * * *", "UTC", "shopify_to_xero_job"),
    "shopify_to_xero_rolling_reconciliation_job_schedule": (
        "45 3 * * *", "UTC", "shopify_to_xero_rolling_reconciliation_job"),
}

# sensor -> minimum interval (seconds), all on by default: the alert sensors, change
# capture every change_capture.delay_minutes, the webhook drain every webhooks.drain_seconds
# and the QuickBooks change sensor every minute
SENSORS: dict[str, int] = {
    "change_capture_sensor": 900,
    "webhook_inbox_sensor": 30,
    "books_changed_sensor": 60,
    "run_failure_alert_sensor": 30,
    "run_recovery_sensor": 30,
    "asset_check_alert_sensor": 30,
    "freshness_alert_sensor": 60,
    "token_health_sensor": 600,
    "missed_schedule_sensor": 60,
    "open_incidents_sensor": 60,
    "stripe_to_warehouse_changes_sensor": 900,
    "shopify_to_xero_books_changed_sensor": 60,
}
RUN_STATUS_SENSORS = {"run_failure_alert_sensor", "run_recovery_sensor"}

# The extracted systems' assets must be materialized every night between the 02:15 tick and
# 04:15 (the catalog's 26-hour SLA); the others carry no freshness policy.
NIGHTLY = dg.FreshnessPolicy.cron(deadline_cron="15 4 * * *",
                                  lower_bound_delta=timedelta(hours=2), timezone="UTC")
FRESHNESS = {"shopify/orders": NIGHTLY, "quickbooks/invoices": NIGHTLY,
             # the change feed's dead-man switch: change_capture.sla_minutes
             "shopify_to_quickbooks/order_changes": dg.FreshnessPolicy.time_window(
                 fail_window=timedelta(minutes=180)),
             # the Stripe pair's: its 04:00 tick plus two hours
             **dict.fromkeys([*STRIPE_OBJECTS, *STRIPE_TABLES],
                             dg.FreshnessPolicy.cron(deadline_cron="0 6 * * *",
                                                     lower_bound_delta=timedelta(hours=2),
                                                     timezone="UTC")),
             "stripe_to_warehouse/stripe_changes": dg.FreshnessPolicy.time_window(
                 fail_window=timedelta(minutes=180)),
             # the Xero pair's: its 02:45 tick plus two hours
             **dict.fromkeys(["shopify_to_xero/shopify/orders", "shopify_to_xero/xero/invoices"],
                             dg.FreshnessPolicy.cron(deadline_cron="45 4 * * *",
                                                     lower_bound_delta=timedelta(hours=2),
                                                     timezone="UTC"))}

# The Xero pair reads its own shop (the catalog's shopify.shop: uk -> resource shopify_uk).
RESOURCES = {"store", "shopify", "shopify_uk", "quickbooks", "stripe", "warehouse", "xero",
             "alerting"}


def key(asset_key: dg.AssetKey) -> str:
    return asset_key.to_user_string()


def check_id(check_key: dg.AssetCheckKey) -> str:
    return f"{key(check_key.asset_key)}:{check_key.name}"


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def declared_jobs() -> dict[str, dg.JobDefinition]:
    return {job.name: job for job in defs.resolve_all_job_defs()
            if not job.name.startswith(IMPLICIT_ASSET_JOB)}


def test_definitions_are_loadable():
    dg.Definitions.validate_loadable(defs)
    dg.Definitions.validate_loadable(build_definitions())


def test_asset_keys(graph):
    assert {key(k) for k in graph.get_all_asset_keys()} == set(ASSETS)
    assert {key(k) for k in defs.resolve_all_asset_keys()} == set(ASSETS)


def test_asset_groups_and_kinds(graph):
    assert {key(k): (graph.get(k).group_name, set(graph.get(k).kinds))
            for k in graph.get_all_asset_keys()} == ASSETS


def test_every_asset_has_owners_a_description_kinds_and_a_group(graph):
    lacking = {}
    for asset_key in graph.get_all_asset_keys():
        node = graph.get(asset_key)
        present = {"owners": bool(node.owners),
                   "description": bool((node.description or "").strip()),
                   "kinds": bool(node.kinds),
                   "group": node.group_name not in (None, DEFAULT_GROUP)}
        if not all(present.values()):
            lacking[key(asset_key)] = sorted(what for what, ok in present.items() if not ok)
    assert lacking == {}


def test_flagship_assets_are_owned_by_the_catalog_owner(graph):
    catalog = integration(FLAGSHIP)
    assert [catalog.owner, catalog.owner_email] == FLAGSHIP_OWNERS
    for asset in FLAGSHIP_PARTITIONED_ASSETS:
        assert graph.get(dg.AssetKey.from_user_string(asset)).owners == FLAGSHIP_OWNERS, asset


def test_asset_dependencies(graph):
    assert {key(k): {key(p) for p in graph.get(k).parent_keys}
            for k in graph.get_all_asset_keys()} == DEPENDENCIES


def test_each_pairs_assets_share_its_daily_partitions(graph):
    partitioned = {key(k): graph.get(k).partitions_def for k in graph.get_all_asset_keys()
                   if graph.get(k).partitions_def is not None}
    assert set(partitioned) == PARTITIONED_ASSETS
    by_start = {}
    for start, assets in PARTITION_STARTS.items():
        shared = {id(partitioned[a]) for a in assets}
        assert len(shared) == 1, "one DailyPartitionsDefinition object per integration"
        by_start[start] = partitioned[next(iter(assets))]
        assert by_start[start] == dg.DailyPartitionsDefinition(start_date=start,
                                                               timezone="UTC")
    daily = by_start["2026-10-01"]
    for asset in PARTITIONED_ASSETS:
        node = graph.get(dg.AssetKey.from_user_string(asset))
        assert node.is_materializable, asset
        assert node.backfill_policy == dg.BackfillPolicy.multi_run(1), asset
    for asset, names in IN_STEP_CHECKS.items():
        asset_key = dg.AssetKey.from_user_string(asset)
        assets_def = defs.resolve_assets_def(asset_key)  # one op may hold several assets
        assert {k.name for k in assets_def.check_keys if k.asset_key == asset_key} == names, \
            asset
    for name, (_, _, is_partitioned) in JOBS.items():
        job_partitions = defs.resolve_job_def(name).partitions_def
        expected = (by_start["2026-11-01"] if name.startswith(STRIPE)
                    else by_start["2026-12-01"] if name.startswith(XERO) else daily)
        assert (job_partitions is expected) if is_partitioned else job_partitions is None, \
            name


def test_observed_assets_are_not_materialized(graph):
    for asset in UNPARTITIONED_ASSETS:
        node = graph.get(dg.AssetKey.from_user_string(asset))
        assert node.is_materializable and node.partitions_def is None, asset
    for asset in set(ASSETS) - PARTITIONED_ASSETS - UNPARTITIONED_ASSETS:
        node = graph.get(dg.AssetKey.from_user_string(asset))
        assert not node.is_materializable, asset
        assert node.partitions_def is None, asset


def test_asset_checks_and_their_blocking_flags(graph):
    assert {check_id(c): graph.get(c).blocking for c in graph.asset_check_keys} == CHECKS


def test_freshness_policies(graph):
    assert {key(k): graph.get(k).freshness_policy for k in graph.get_all_asset_keys()
            if graph.get(k).freshness_policy is not None} == FRESHNESS


def test_jobs(graph):
    jobs = declared_jobs()
    assert set(jobs) == set(JOBS)
    unresolved = {job.name: job for job in defs.jobs}
    for name, (assets, tags, _) in JOBS.items():
        selection = getattr(unresolved[name], "selection", None)
        selected = selection.resolve(graph) if selection is not None else set()
        assert {key(k) for k in selected} == assets, name
        assert dict(jobs[name].tags) == tags, name


def test_schedules():
    assert {s.name for s in defs.schedules} == set(SCHEDULES)
    for name, (cron, timezone, job) in SCHEDULES.items():
        schedule = defs.resolve_schedule_def(name)
        assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
            cron, timezone, job), name
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, name
    catalog = integration(FLAGSHIP)
    assert SCHEDULES[f"{FLAGSHIP}_job_schedule"][0] == (
        f"{catalog.schedule.minute} {catalog.schedule.hour} * * *")


def test_sensors_are_all_running_by_default():
    assert {s.name for s in defs.sensors} == set(SENSORS)
    resolved = {name: defs.resolve_sensor_def(name) for name in SENSORS}
    assert {name: (s.default_status, s.minimum_interval_seconds)
            for name, s in resolved.items()} == {
        name: (dg.DefaultSensorStatus.RUNNING, interval) for name, interval in SENSORS.items()}
    assert {name for name, s in resolved.items()
            if isinstance(s, dg.RunStatusSensorDefinition)} == RUN_STATUS_SENSORS


def test_naming_conventions(graph):
    assert all(name.endswith("_job") for name in JOBS)
    assert all(s.name == f"{s.job_name}_schedule"
               for s in (defs.resolve_schedule_def(n) for n in SCHEDULES))
    assert all(name.endswith("_sensor") for name in SENSORS)
    # `<system>/<record>`, or `<pair>/<system>/<record>` for a pair whose catalog entry sets
    # prefix_asset_keys (the Xero pair reads the flagship's shop).
    assert all(len(k.path) == 2 or (len(k.path) == 3 and integration(k.path[0]).prefix_asset_keys)
               for k in graph.get_all_asset_keys())


def test_resources_and_overrides_need_no_environment():
    assert set(defs.resources) == RESOURCES
    store = IntegrationStore(database_url="postgresql+psycopg://nobody@nowhere.invalid/none")
    overridden = build_definitions({"store": store})
    dg.Definitions.validate_loadable(overridden)
    assert overridden.resources["store"] is store
    assert set(overridden.resources) == RESOURCES


def test_dagster_definitions_validate_passes_without_environment(tmp_path):
    """The CLI, from the checkout, with none of the project's or Dagster's variables set.

    DAGSTER_HOME points at an empty instance folder: without it the CLI would build its
    temporary instance from the checkout's dagster.yaml, the PostgreSQL deployment's config,
    which needs DAGSTER_PG_URL; validating the definitions must not need a database.
    """
    prefixes = ("DAGSTER_", "DATABASE_URL", "TEST_DATABASE_URL", "SHOPIFY_", "QBO_", "SLACK_",
                "RUNBOOK_URL")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env["DAGSTER_HOME"] = str(tmp_path)
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location integrations_pipelines." in output
    assert "All code locations passed validation." in output


# Steps that call a vendor -> the concurrency pool named for it (limits in dagster.yaml).
POOLS = {
    "shopify/orders": "shopify",
    "shopify_to_quickbooks/invoice_sync": "quickbooks",
    "quickbooks/invoices": "quickbooks",
    "shopify_to_quickbooks/order_changes": "quickbooks",
    "shopify_to_quickbooks/webhook_deliveries": "quickbooks",
    **dict.fromkeys(STRIPE_OBJECTS, "stripe"),
    "stripe_to_warehouse/warehouse_load": "warehouse",
    **dict.fromkeys(STRIPE_TABLES, "warehouse"),
    "stripe_to_warehouse/stripe_changes": "stripe",
    "shopify_to_xero/shopify/orders": "shopify_uk",
    "shopify_to_xero/invoice_sync": "xero",
    "shopify_to_xero/xero/invoices": "xero",
}


def test_every_vendor_step_is_in_its_vendors_concurrency_pool() -> None:
    graph = defs.resolve_asset_graph()
    assert {key: graph.get(dg.AssetKey.from_user_string(key)).assets_def.op.pool
            for key in POOLS} == POOLS
    replay = defs.resolve_job_def("dead_letter_replay_job")
    assert [node.definition.pool for node in replay.nodes] == ["quickbooks"]


def test_the_deployment_dequeues_one_run_per_partition_at_a_time(tmp_path) -> None:
    """dagster.yaml as Dagster reads it (storage left to the default): runs of one partition
    (the nightly run, a re-run, the repair job) are dequeued one at a time, and no pair takes
    more than two of the four run slots (its jobs carry its `integration` tag)."""
    import yaml

    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config.pop("storage")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 4
    assert list(queue.tag_concurrency_limits) == [
        {"key": "dagster/partition", "limit": 1, "value": {"applyLimitPerUniqueValue": True}},
        {"key": "integration", "limit": 2, "value": {"applyLimitPerUniqueValue": True}}]
    instance.dispose()
    for pair in (FLAGSHIP, STRIPE, XERO):
        for job in (f"{pair}_job", f"{pair}_repair_job"):
            assert defs.resolve_job_def(job).tags.get("integration") == pair, job


def test_every_asset_of_a_pair_names_its_integration_for_alert_routing() -> None:
    """Alerts of an asset go to its integration's channel: the pair's assets carry the
    `integration` tag (the project-wide ones, token health and incidents, do not)."""
    graph = defs.resolve_asset_graph()
    tagged = {node.key.to_user_string(): node.tags.get("integration")
              for node in graph.asset_nodes}
    shared = {"quickbooks/token_health", "xero/token_health", "alerts/incidents"}
    assert {key: tag for key, tag in tagged.items() if key not in shared} == {
        key: STRIPE if key.startswith(STRIPE) or key in STRIPE_PARTITIONED_ASSETS
        else XERO if key.startswith(XERO) else FLAGSHIP
        for key in ASSETS if key not in shared}
    assert all(tagged[key] is None for key in shared)
