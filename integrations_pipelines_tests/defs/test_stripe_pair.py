"""The Stripe -> warehouse pair runs through Dagster on the kit: five Stripe assets from the
sandbox over HTTP, the COPY + MERGE load, the judge on Stripe's own facts (objects, payouts,
per-currency and per-category totals), the daily revenue model, the repair job."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.kit import build_pair
from integrations_pipelines.defs.resources import IntegrationStore, WarehouseResource
from integrations_pipelines.defs.sources.stripe_resource import StripeResource
from integrations_pipelines.defs.stripe_to_warehouse.pair import pair_spec
from integrations_pipelines.mapping.stripe_to_warehouse import tables
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.sandbox.stripe_account import generate_account
from integrations_pipelines.sandbox.stripe_app import start_stripe

START = date(2026, 11, 20)
DAYS = [START + timedelta(days=n) for n in range(3)]
NAME = "stripe_to_warehouse"
ENTRY = StripeToWarehouseEntry(
    name=NAME, description="Stripe into the analytics warehouse.", source="stripe",
    destination="warehouse", owner="team:analytics", owner_email="analytics@example.com",
    slack_channel="#analytics", partitions_start=START, schedule={"hour": 4, "minute": 0},
    freshness_sla_hours=26, expected_daily_volume=50,
    warehouse={"schema_name": "analytics_pair", "table_prefix": "stripe_"})
LEDGER = "warehouse/stripe_ledger"
CHECKS = {
    *(f"stripe/{r}:{c}" for r in ("charges", "refunds", "disputes", "payouts",
                                  "balance_transactions")
      for c in (f"{r}_conform_to_contract", "stripe_api_version_is_current",
                "stripe_answered_without_outage")),
    "stripe/balance_transactions:balance_transaction_volume_matches_baseline",
    "stripe/balance_transactions:no_contract_drift",
    f"{NAME}/warehouse_load:every_stripe_object_loaded_or_dead_lettered",
    f"{LEDGER}:rows_match_stripe_objects",
    f"{LEDGER}:payouts_match_their_balance_transactions",
    f"{LEDGER}:daily_totals_match_stripe_balance_transactions",
}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {f"{c.asset_key.to_user_string()}:{c.check_name}": c.passed
            for c in result.get_asset_check_evaluations()}


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict:
    return {k: v.value for k, v in
            result.asset_materializations_for_node(node)[0].metadata.items()}


@pytest.fixture
def pair(database_url, dagster_instance):
    # A day more than the runs cover: the last run's payouts have arrived (`paid`).
    ledger = generate_account(seed=21, start=START, days=len(DAYS) + 1, charges_per_day=50)
    server, store = start_stripe(ledger)
    defs = dg.Definitions.merge(build_pair(pair_spec(ENTRY)), dg.Definitions(resources={
        "store": IntegrationStore(database_url=database_url),
        "stripe": StripeResource(base_url=server.url, api_key=store.api_key),
        "warehouse": WarehouseResource(url=database_url),
    }))
    dg.Definitions.validate_loadable(defs)

    def run(day: date, job: str = f"{NAME}_job",
            only: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
        return defs.resolve_job_def(job).execute_in_process(
            partition_key=day.isoformat(), instance=dagster_instance, raise_on_error=False,
            asset_selection=only)

    yield run, store, defs
    server.stop()


def test_the_pair_loads_reconciles_models_and_repairs_through_dagster(pair, engine,
                                                                        dagster_instance):
    run, store, defs = pair
    for day in DAYS:
        result = run(day)
        assert result.success and _checks(result) == dict.fromkeys(CHECKS, True), \
            (day, {k: v for k, v in _checks(result).items() if not v})
    day = DAYS[-1]
    counts = store.ledger.day_counts(day)
    load = _metadata(result, f"{NAME}__warehouse_load")
    assert load["rows_inserted"] == sum(counts.values()) and load["rows_updated"] == 0
    ledger = _metadata(result, "warehouse__stripe_ledger")
    assert ledger["paid_payouts"] >= 1  # day 3's payouts pay day 1's transactions
    revenue = sa.Table("stripe_daily_revenue", sa.MetaData(schema="analytics_pair"),
                       autoload_with=engine)
    with engine.connect() as conn:
        built = {(r.business_date, r.currency.strip()): r for r in conn.execute(
            sa.select(revenue))}
    assert {d for d, _ in built} == set(DAYS) and {c for _, c in built} >= {"usd", "eur"}

    again = run(day)  # a re-run of the day writes nothing
    load = _metadata(again, f"{NAME}__warehouse_load")
    assert again.success and (load["rows_inserted"], load["rows_updated"]) == (0, 0)

    t = tables(ENTRY)
    with engine.begin() as conn:
        txn = conn.execute(sa.select(t["balance_transactions"].c.id).where(
            t["balance_transactions"].c.business_date == day,
            t["balance_transactions"].c.type == "charge").limit(1)).scalar_one()
        conn.execute(t["balance_transactions"].update()
                     .where(t["balance_transactions"].c.id == txn).values(net=1))
        charge = conn.execute(sa.select(t["charges"].c.id).where(
            t["charges"].c.business_date == day).limit(1)).scalar_one()
        conn.execute(t["charges"].delete().where(t["charges"].c.id == charge))
    # The read-back alone (a nightly run would re-load both rows: MERGE rewrites what differs).
    broken = run(day, only=[dg.AssetKey.from_user_string(LEDGER)])
    assert not broken.success
    checks = _checks(broken)
    assert not checks[f"{LEDGER}:rows_match_stripe_objects"]
    assert not checks[f"{LEDGER}:daily_totals_match_stripe_balance_transactions"]
    [verdict] = [c for c in broken.get_asset_check_evaluations()
                 if c.check_name == "rows_match_stripe_objects"]
    assert verdict.metadata["discrepant_keys"].value["wrong_values"] == [txn]
    assert verdict.metadata["discrepant_keys"].value["missing"] == [charge]
    assert verdict.metadata["repair_job"].value == f"{NAME}_repair_job"

    repaired = run(day, f"{NAME}_repair_job")
    assert repaired.success, _checks(repaired)
    assert _metadata(repaired, "warehouse__stripe_ledger")["repair_objects_reloaded"] == 2

    sample = defs.resolve_job_def(f"{NAME}_reconciliation_sample_job").execute_in_process(
        run_config={"ops": {f"{NAME}__sample_comparison": {"config": {
            "partition": day.isoformat(), "n": 5}}}}, instance=dagster_instance)
    assert sample.success


def test_the_change_feed_may_run_before_any_nightly_load(pair, engine, dagster_instance):
    """On a new deployment (or `dev`'s first start) the changes sensor's first run comes
    before the first nightly load: it applies the warehouse's migrations itself."""
    _, _, defs = pair
    first = defs.resolve_job_def(f"{NAME}_changes_job").execute_in_process(
        instance=dagster_instance, raise_on_error=False)
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names(schema="analytics_pair"))
    assert "stripe_charges" in tables
