"""What the UI says of each check is what happened: executed and passed, executed and failed,
or not executed. Dagster resolves a check planned in a failed run that never reported as
"Execution failed" (red), and one planned in a successful run as "Skipped"; these tests read
the statuses the way the UI does (`AssetCheckExecutionRecord.resolve_status`) after a clean
night, a night that finds a deleted invoice, and the repair; and on a pair whose earlier
step breaks a blocking promise, which the read-back enforces once every check reported."""

from __future__ import annotations

import asyncio

import dagster as dg
import pytest
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionResolvedStatus as Status,
)

from integrations_pipelines.catalog import integration
from integrations_pipelines.defs.alerting.runs import is_blocking_check_failure
from integrations_pipelines.defs.kit import PairSpec, Step, StepReport
from integrations_pipelines.defs.kit.factory import pair_assets
from integrations_pipelines.defs.resources import IntegrationStore
from integrations_pipelines.reconciliation.frames import SideLabels
from integrations_pipelines_tests.reconciliation.drift import (
    REPAIR_JOB,
    Bookkeeper,
    run,
    small_shop,
)
from integrations_pipelines_tests.support import JOB, definitions_for, sandbox_resources

INVOICES = "quickbooks/invoices"


def statuses(defs: dg.Definitions, instance: dg.DagsterInstance,
             run_id: str) -> dict[str, Status]:
    """Each check the job planned in `run_id`, as the UI resolves it."""
    context = LoadingContextForTest(instance)
    found = {}
    for key in defs.resolve_asset_graph().asset_check_keys:
        [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1) \
            or [None]
        if record is not None and record.run_id == run_id:
            found[key.to_user_string()] = asyncio.run(record.resolve_status(context))
    return found


@pytest.mark.slow
def test_every_check_of_a_run_reports_what_it_found(database_url, dagster_instance,
                                                   shop_sandbox, qbo_sandbox):
    shop_server, shop = shop_sandbox(small_shop())
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    defs = definitions_for(sandbox_resources(database_url, shop_server.url, shop.access_token,
                                             qbo_server.url, books))
    planned = {key.to_user_string() for key in
               defs.resolve_job_def(JOB).asset_layer.asset_graph.asset_check_keys}

    night = run(defs, dagster_instance)
    assert night.success
    clean = statuses(defs, dagster_instance, night.run_id)
    assert set(clean) == planned and len(planned) == 10
    assert {s for s in clean.values()} <= {Status.SUCCEEDED, Status.FAILED}
    assert clean[f"{INVOICES}:invoices_match_shopify_orders"] == Status.SUCCEEDED

    Bookkeeper(qbo_server.url).delete("S1002")
    found = run(defs, dagster_instance)
    assert not found.success  # the reconciliation blocks: the run fails on it
    after = statuses(defs, dagster_instance, found.run_id)
    assert set(after) == planned
    assert Status.EXECUTION_FAILED not in after.values()
    invoices = {k.partition(":")[2]: s for k, s in after.items() if k.startswith(INVOICES)}
    assert invoices == {
        "invoices_match_shopify_orders": Status.FAILED,
        "every_synced_order_has_one_invoice": Status.FAILED,
        "invoices_keep_up_with_orders": Status.FAILED,  # 22 invoices for 23 orders
        "no_contract_drift": Status.SUCCEEDED,
    }

    repaired = run(defs, dagster_instance, REPAIR_JOB)
    assert repaired.success
    fixed = statuses(defs, dagster_instance, repaired.run_id)
    assert fixed == {f"{INVOICES}:{name}": Status.SUCCEEDED for name in invoices}


def _toy_pair(promise_kept: bool) -> PairSpec:
    """Three steps on the kit that call no vendor: the extraction's blocking promise holds
    or not; the sync and the read-back keep theirs."""
    entry = integration("shopify_to_quickbooks")

    def step(name: str, check: str, passed: bool = True, blocking: bool = True) -> Step:
        key = dg.AssetKey(["toy", name])
        spec = dg.AssetCheckSpec(check, asset=key, blocking=blocking)
        return Step(key=key, resource="store", group="toy", kinds=frozenset({"postgres"}),
                    description=name, check_specs=[spec],
                    run=lambda run: StepReport(metadata={"step": name}, checks=[
                        dg.AssetCheckResult(check_name=check, asset_key=key, passed=passed)]))

    return PairSpec(entry=entry, labels=SideLabels("toy", "record", "toy", "copy"),
                    extract=step("extract", "contract_kept", passed=promise_kept),
                    sync=step("sync", "nothing_pending"),
                    read_back=step("read_back", "copies_match"),
                    sample=lambda *args: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("promise_kept", [True, False])
def test_an_earlier_broken_promise_fails_the_run_after_every_check_reported(
        database_url, dagster_instance, promise_kept):
    spec = _toy_pair(promise_kept)
    assets = pair_assets(spec)
    store = {"store": IntegrationStore(database_url=database_url)}
    defs = dg.Definitions(assets=assets, resources=store)
    graph = defs.resolve_asset_graph()
    # Dagster blocks only in the read-back; the extraction's promise is the kit's to enforce.
    assert {k.to_user_string(): graph.get(k).blocking for k in graph.asset_check_keys} == {
        "toy/extract:contract_kept": False, "toy/sync:nothing_pending": False,
        "toy/read_back:copies_match": True}

    result = dg.materialize(assets, partition_key="2026-11-06", instance=dagster_instance,
                            resources=store, raise_on_error=False)
    shown = statuses(defs, dagster_instance, result.run_id)
    assert shown == {"toy/extract:contract_kept":
                     Status.SUCCEEDED if promise_kept else Status.FAILED,
                     "toy/sync:nothing_pending": Status.SUCCEEDED,
                     "toy/read_back:copies_match": Status.SUCCEEDED}
    # Every step ran and materialized; the run's verdict is the promise's.
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} \
        == {"toy/extract", "toy/sync", "toy/read_back"}
    assert result.success is promise_kept
    if not promise_kept:
        [failure] = [e for e in result.all_events if e.is_step_failure]
        assert failure.step_key == "toy__read_back"
        error = failure.step_failure_data.error
        assert is_blocking_check_failure(failure), error
        assert "toy/extract:contract_kept" in error.message
