"""What the UI says of each check is what happened: executed and passed, executed and failed,
or not executed. Dagster resolves a check planned in a failed run that never reported as
"Execution failed" (red), and one planned in a successful run as "Skipped"; these tests read
the statuses the way the UI does (`AssetCheckExecutionRecord.resolve_status`) after a clean
night, a night that finds a deleted invoice, and the repair."""

from __future__ import annotations

import asyncio

import dagster as dg
import pytest
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionResolvedStatus as Status,
)

from integrations_pipelines.catalog import integration
from integrations_pipelines.defs.kit import Step, StepReport
from integrations_pipelines.defs.kit.assets import build_asset
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


def test_only_the_read_back_may_block():
    """A blocking check on an earlier step would end runs before the later steps' checks
    ran (each shown as "Execution failed"): the kit refuses it when the definitions load."""
    key = dg.AssetKey(["demo", "sync"])
    step = Step(key=key, resource="store", group="demo", kinds=frozenset({"postgres"}),
                description="a sync", run=lambda run: StepReport(metadata={}, checks=[]),
                check_specs=[dg.AssetCheckSpec("nothing_pending", asset=key, blocking=True)])
    entry = integration("shopify_to_quickbooks")
    with pytest.raises(ValueError, match="only the read-back's checks may block; "
                                         "nothing_pending"):
        build_asset(entry, step, deps=[])
    assert build_asset(entry, step, deps=[], read_back=True).check_keys == {
        dg.AssetCheckKey(key, "nothing_pending")}
