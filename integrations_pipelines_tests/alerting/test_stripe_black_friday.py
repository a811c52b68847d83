"""The seeds' second story as a test: Black Friday at ten times the usual volume, and in the
middle of the nightly extraction Stripe fails for 90 minutes (compressed to a few seconds)
with 5xx answers and timeouts.

The nightly run rides the outage out through the HTTP client's retries and ends with every
transaction of the day in the warehouse, none twice, and the reconciliation on Stripe's own
facts green; the outage is in the run's metadata (retries, 5xx and timeouts, time waited)
and reaches Slack as a warning. The expected-volume check knows Black Friday from the
catalog. A refund after the day comes in through the Events API and the day still
reconciles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.alerting import alerting_definitions
from integrations_pipelines.defs.kit import build_pair
from integrations_pipelines.defs.resources import IntegrationStore, WarehouseResource
from integrations_pipelines.defs.sources.stripe_resource import StripeResource
from integrations_pipelines.defs.stripe_to_warehouse.pair import pair_spec
from integrations_pipelines.mapping.stripe_to_warehouse import tables
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.sandbox.stripe_account import generate_account
from integrations_pipelines.sandbox.stripe_app import start_stripe
from integrations_pipelines_tests.alerting.conftest import Daemon

pytestmark = pytest.mark.slow

START = date(2026, 11, 24)
BLACK_FRIDAY = date(2026, 11, 27)
NAME = "stripe_to_warehouse"  # the catalog's entry: its alerts go to its channel
ENTRY = StripeToWarehouseEntry(
    name=NAME, description="Stripe into the analytics warehouse.", source="stripe",
    destination="warehouse", owner="team:analytics", owner_email="analytics@example.com",
    slack_channel="#analytics", partitions_start=START, schedule={"hour": 4, "minute": 0},
    freshness_sla_hours=26, expected_daily_volume=120, peak_days={BLACK_FRIDAY: 10},
    warehouse={"schema_name": "analytics_bf", "table_prefix": "stripe_"})
OUTAGE = "stripe_answered_without_outage"


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{c.asset_key.to_user_string()}:{c.check_name}": c
            for c in result.get_asset_check_evaluations()}


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict:
    return {k: v.value for k, v in
            result.asset_materializations_for_node(node)[0].metadata.items()}


def test_black_friday_with_a_90_minute_outage_ends_complete_reconciled_and_alerted(
        database_url, engine, dagster_instance, alerting, posted, slack):
    _, workspace = slack
    workspace.channels.setdefault("analytics", "C99999999")  # the pair's channel
    ledger = generate_account(seed=27, start=START, days=5, charges_per_day=120,
                              black_friday=BLACK_FRIDAY)
    server, stripe = start_stripe(ledger)
    try:
        defs = dg.Definitions.merge(
            build_pair(pair_spec(ENTRY)), alerting_definitions([]),
            dg.Definitions(resources={
                "store": IntegrationStore(database_url=database_url),
                "stripe": StripeResource(base_url=server.url, api_key=stripe.api_key,
                                         timeout_s=0.5, backoff_max_s=0.5,
                                         retry_max_attempts=500, retry_max_elapsed_s=300),
                "warehouse": WarehouseResource(url=database_url),
                "alerting": alerting}))
        daemon = Daemon(defs, dagster_instance)
        daemon.arm("asset_check_alert_sensor")

        def run(day: date, job: str = f"{NAME}_job",
                only: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
            return defs.resolve_job_def(job).execute_in_process(
                partition_key=day.isoformat(), instance=dagster_instance,
                raise_on_error=False, asset_selection=only)

        for day in (START, START + timedelta(days=1), START + timedelta(days=2)):
            assert run(day).success, day
        # Black Friday: 90 minutes of 5xx and timeouts, starting at the 8th request of the
        # night (the ledger's pages), compressed to 0.05 s a minute.
        stripe.outage.arm(8, minutes=90, seconds_per_minute=0.05, timeout_share=0.3,
                          hang_s=1.0, seed=3)
        night = run(BLACK_FRIDAY)
        outage = stripe.outage.snapshot()
        assert outage["server_errors"] > 0 and outage["timeouts"] > 0 and not outage["active"]

        checks = _checks(night)
        assert night.success
        failed = {name for name, c in checks.items() if not c.passed}
        assert failed and all(name.endswith(f":{OUTAGE}") for name in failed), failed
        assert all(checks[n].severity == dg.AssetCheckSeverity.WARN for n in failed)
        for promise in (*(f"warehouse/stripe_{r}:rows_match_stripe_objects"
                          for r in ("charges", "refunds", "disputes", "payouts",
                                    "balance_transactions")),
                        "warehouse/stripe_payouts:payouts_match_their_balance_transactions",
                        "warehouse/stripe_balance_transactions:"
                        "daily_totals_match_stripe_balance_transactions",
                        f"{NAME}/warehouse_load:every_stripe_object_loaded_or_dead_lettered",
                        "stripe/balance_transactions:"
                        "balance_transaction_volume_matches_baseline"):
            assert checks[promise].passed, promise
        volume = checks["stripe/balance_transactions:"
                        "balance_transaction_volume_matches_baseline"].metadata
        assert volume["peak_factor"].value == 10.0

        # The outage in the run's metadata: every failed attempt the sandbox answered badly
        # is counted by the steps that met it, with their retries and time waited.
        steps = [f"stripe__{r}" for r in ("balance_transactions", "charges", "refunds",
                                          "disputes", "payouts")]
        figures = [_metadata(night, s) for s in steps]
        assert sum(f["http_5xx_or_timeouts"] for f in figures) == (
            outage["server_errors"] + outage["timeouts"])
        assert sum(f["http_retries"] for f in figures) >= outage["server_errors"]
        assert sum(f["waited_s"] for f in figures) > 0

        # Every transaction of the day in the warehouse, once.
        counts = ledger.day_counts(BLACK_FRIDAY)
        assert counts["charges"] == 1200
        t = tables(ENTRY)
        with engine.connect() as conn:
            for resource, table in t.items():
                held = conn.execute(sa.select(sa.func.count(), sa.func.count(
                    sa.distinct(table.c.id))).where(
                    table.c.business_date == BLACK_FRIDAY)).one()
                assert tuple(held) == (counts[resource], counts[resource]), resource
            ids = set(conn.execute(sa.select(t["balance_transactions"].c.id).where(
                t["balance_transactions"].c.business_date == BLACK_FRIDAY)).scalars())
        assert ids == {x["id"] for x in ledger.objects["balance_transactions"].values()
                       if datetime.fromtimestamp(x["created"], UTC).date() == BLACK_FRIDAY}

        # The outage reaches Slack as a warning, in the pair's channel.
        daemon.tick("asset_check_alert_sensor")
        warnings = [m for m in posted.all() if OUTAGE in m["text"]]
        assert warnings and {m["channel"] for m in warnings} <= {"#analytics", "C99999999"}

        # After the day: a customer is refunded; the event feed brings the change in.
        assert defs.resolve_job_def(f"{NAME}_changes_job").execute_in_process(
            instance=dagster_instance).success  # the feed's first pass sets its cursor
        charge = next(c for c in ledger.objects["charges"].values()
                      if datetime.fromtimestamp(c["created"], UTC).date() == BLACK_FRIDAY
                      and not c["amount_refunded"] and not c["disputed"])
        # A minute ago: inside the feed's overlap with its last pass, before its lag.
        refund = ledger.refund(charge["id"], charge["amount"] // 2,
                               int(datetime.now(UTC).timestamp()) - 60)
        changes = defs.resolve_job_def(f"{NAME}_changes_job").execute_in_process(
            instance=dagster_instance)
        feed = _metadata(changes, f"{NAME}__stripe_changes")
        assert changes.success and feed["objects_changed"] == 2 and feed["rows_written"] == 2
        with engine.connect() as conn:
            held = conn.execute(sa.select(t["charges"].c.amount_refunded).where(
                t["charges"].c.id == charge["id"])).scalar_one()
            assert held == charge["amount"] // 2
            assert conn.execute(sa.select(t["refunds"].c.charge_id).where(
                t["refunds"].c.id == refund["id"])).scalar_one() == charge["id"]
        again = defs.resolve_job_def(f"{NAME}_changes_job").execute_in_process(
            instance=dagster_instance)
        assert _metadata(again, f"{NAME}__stripe_changes")["rows_written"] == 0
        judged = run(BLACK_FRIDAY, only=[dg.AssetKey(["warehouse", f"stripe_{r}"]) for r in (
            "charges", "refunds", "disputes", "payouts", "balance_transactions")])
        assert judged.success and all(c.passed for c in _checks(judged).values())
    finally:
        server.stop()
