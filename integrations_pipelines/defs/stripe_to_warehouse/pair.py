"""Stripe into the analytics warehouse, on the kit: the second pair's shape, source ->
warehouse, with several record types.

Steps, built into assets, jobs and schedules by the kit's factory:
- `stripe/balance_transactions` (the money ledger; with the expected-volume check that
  knows the catalog's peak days), `stripe/charges`, `stripe/refunds`, `stripe/disputes`,
  `stripe/payouts` (the shared Stripe steps, `defs/sources/stripe_objects.py`);
- `<pair>/warehouse_load`: COPY + MERGE of the window's objects into their typed tables,
  payouts set on the transactions they paid; promise: every object loaded or dead-lettered;
- `warehouse/stripe_<object>` (five assets, each downstream of its `stripe/<object>`, one
  read-back step): each table's rows of the window, those this run wrote and those left
  unchanged, and the judge on Stripe's own facts where it belongs: every table's objects
  present once and current, every paid payout equal to its transactions (on
  `warehouse/stripe_payouts`; pending while the days it paid are not loaded), the day's
  totals per currency and reporting category equal to Stripe's (on
  `warehouse/stripe_balance_transactions`); under the repair job the discrepant objects are
  re-loaded first;
- `warehouse/daily_revenue`: the model (gross, refunds, disputes, fees, net per day and
  balance currency) from the balance transactions' table, rebuilt in SQL once the read-back
  passed.
Its extras: the change feed through Stripe's Events API (`changes.py`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration, as_entry
from integrations_pipelines.defs.kit import DriftCheck, PairSpec, Step, StepReport, StepRun
from integrations_pipelines.defs.kit.jobs import repair_job_name
from integrations_pipelines.defs.kit.reconciliation import reconciliation_result
from integrations_pipelines.defs.resources import WarehouseResource
from integrations_pipelines.defs.sources.stripe_objects import object_steps
from integrations_pipelines.defs.stripe_to_warehouse.changes import changes_definitions
from integrations_pipelines.defs.stripe_to_warehouse.volume import volume_result, volume_spec
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.reconciliation import stripe_to_warehouse as judge
from integrations_pipelines.reconciliation.window import WindowReconciliation
from integrations_pipelines.sync import stripe_to_warehouse as load
from integrations_pipelines.vendors.stripe.records import OBJECTS

__all__ = ["ACCOUNTED", "PAYOUTS", "RECONCILED", "TOTALS", "pair_spec"]

ACCOUNTED = "every_stripe_object_loaded_or_dead_lettered"
RECONCILED = "rows_match_stripe_objects"
PAYOUTS = "payouts_match_their_balance_transactions"
TOTALS = "daily_totals_match_stripe_balance_transactions"
RESYNCED = ("missing", "stale", "wrong_values")
EXAMPLES = 10


def _entry(entry: Integration) -> StripeToWarehouseEntry:
    return as_entry(entry, StripeToWarehouseEntry)


def load_objects(run: StepRun, check: dg.AssetCheckSpec) -> StepReport:
    entry, window = _entry(run.entry), run.window
    warehouse: WarehouseResource = run.vendor
    engine = warehouse.engine()
    applied = load.ensure_schema(engine, entry)  # DDL only when a migration is pending
    done = load.load_window(run.engine, engine, entry, window.first_day, window.end_day)
    with run.engine.connect() as conn, engine.connect() as wconn:
        found = load.pending(conn, wconn, entry, window.first_day, window.end_day)
    accounted = dg.AssetCheckResult(
        check_name=check.name, asset_key=check.asset_key, passed=not found.pending,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"objects": found.objects, "loaded": found.loaded,
                  "dead_lettered": found.dead_lettered, "pending": len(found.pending),
                  "pending_examples": dg.MetadataValue.json(found.pending[:EXAMPLES])})
    per = {f"{resource}_{what}": getattr(merged, what)
           for resource, merged in done.by_resource.items()
           for what in ("inserted", "updated", "unchanged")}
    return StepReport(
        metadata={"rows_inserted": done.total("inserted"),
                  "rows_updated": done.total("updated"),
                  "rows_unchanged": done.total("unchanged"),
                  "objects_dead_lettered": done.dead_lettered,
                  "payout_links_set": done.payout_links, "migrations_applied": len(applied),
                  "by_table": dg.MetadataValue.json(per)},
        checks=[accounted],
        log=f"{done.total('inserted')} rows inserted, {done.total('updated')} updated, "
            f"{done.total('unchanged')} unchanged for {window.label}")


def _payouts_result(balances: list[judge.PayoutBalance],
                    check: dg.AssetCheckSpec) -> dg.AssetCheckResult:
    """Judges the payouts the warehouse can show; a payout whose earlier days are not
    loaded yet is pending (with the days), not a failure."""
    pending = [b for b in balances if b.pending]
    judged = [b for b in balances if not b.pending]
    off = [b for b in judged if not b.balanced]
    return dg.AssetCheckResult(
        check_name=check.name, asset_key=check.asset_key, passed=not off,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(off)} of {len(judged)} paid payouts do not equal their balance "
            "transactions' net in Stripe and the warehouse" if off else
            f"{len(pending)} paid payout(s) pending: they paid balance transactions of "
            "days not loaded into the warehouse yet; judged once those days are loaded"
            if pending else None),
        metadata={"paid_payouts": len(balances), "judged": len(judged),
                  "unbalanced": len(off), "pending": len(pending),
                  "pending_examples": dg.MetadataValue.json([
                      {"payout": b.payout, "reason": "balance transactions of days not "
                       "loaded into the warehouse yet", "transactions_not_loaded":
                       len(b.unloaded), "days": list(b.unloaded_days)}
                      for b in pending[:EXAMPLES]]),
                  "examples": dg.MetadataValue.json([
                      {"payout": b.payout, "currency": b.currency,
                       "stripe_amount": b.stripe_amount,
                       "stripe_transactions_net": b.stripe_items_net,
                       "warehouse_amount": b.warehouse_amount,
                       "warehouse_transactions_net": b.warehouse_items_net}
                      for b in off[:EXAMPLES]])})


def _totals_result(totals: list[judge.Totals], check: dg.AssetCheckSpec) -> dg.AssetCheckResult:
    off = [t for t in totals if not t.equal]
    return dg.AssetCheckResult(
        check_name=check.name, asset_key=check.asset_key, passed=not off,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not off else (
            f"{len(off)} of {len(totals)} day/currency/category totals differ from Stripe's "
            "balance transactions"),
        metadata={"groups": len(totals), "differing": len(off),
                  "currencies": dg.MetadataValue.json(sorted({t.currency for t in totals})),
                  "examples": dg.MetadataValue.json([
                      {"day": t.day.isoformat(), "currency": t.currency,
                       "reporting_category": t.category,
                       "stripe_count_amount_fee_net": list(t.stripe),
                       "warehouse_count_amount_fee_net": list(t.warehouse)}
                      for t in off[:EXAMPLES]])})


def _run_started(run: StepRun) -> datetime:
    """When the run started (rows the run wrote carry a later `loaded_at`)."""
    record = run.context.instance.get_run_record_by_id(run.run_id)
    started = record.start_time if record is not None else None
    return datetime.fromtimestamp(started, UTC) if started else datetime.now(UTC)


def read_back_tables(run: StepRun, keys: dict[str, dg.AssetKey],
                     checks: dict[tuple[str, str], dg.AssetCheckSpec]) -> StepReport:
    """The five tables read back and judged, each asset with its own figures: its rows of
    the window, those this run wrote (the load, or the repair) and those left unchanged,
    and its own reconciliation; payouts and daily totals judged on their tables."""
    entry, window = _entry(run.entry), run.window
    warehouse: WarehouseResource = run.vendor
    engine = warehouse.engine()
    start, end = window.first_day, window.end_day
    repaired: dict[str, Any] = {}
    if run.repair:
        with run.engine.connect() as conn, engine.connect() as wconn:
            before = judge.reconcile(conn, wconn, entry, start, end)
        ids = set(before.source_ids(*RESYNCED))
        done = load.load_window(run.engine, engine, entry, start, end, only=ids)
        repaired = {"repair_objects_reloaded": done.total("written"),
                    "repair_payout_links_set": done.payout_links,
                    **{f"repair_found_{c}": n for c, n in before.counts.items()}}
    since = _run_started(run)
    per_asset: dict[dg.AssetKey, dict[str, Any]] = {}
    results: list[dg.AssetCheckResult] = []
    with run.engine.connect() as conn, engine.connect() as wconn:
        for resource in OBJECTS:
            report = judge.reconcile(conn, wconn, entry, start, end, resources=[resource])
            rows = len(report.frames.destination)
            written = load.written_since(wconn, entry, resource, start, end, since)
            per_asset[keys[resource]] = {
                "table": f"{entry.warehouse.schema_name}.{entry.warehouse.table_prefix}"
                         f"{resource}", "rows": rows, "rows_written": written,
                "rows_unchanged": rows - written, "stripe_objects": report.frames.source_count}
            results.append(reconciliation_result(report, window, RECONCILED, keys[resource],
                                                 repair_job_name(entry.name)))
        balances = judge.payout_balances(conn, wconn, entry, start, end)
        totals = judge.category_totals(conn, wconn, entry, start, end)
    per_asset[keys["payouts"]]["paid_payouts"] = len(balances)
    return StepReport(
        metadata={**repaired, "window": window.label},
        checks=[*results, _payouts_result(balances, checks[("payouts", PAYOUTS)]),
                _totals_result(totals, checks[("balance_transactions", TOTALS)])],
        per_asset=per_asset)


def build_revenue(run: StepRun) -> StepReport:
    entry, window = _entry(run.entry), run.window
    warehouse: WarehouseResource = run.vendor
    built = load.rebuild_daily_revenue(warehouse.engine(), entry, window.first_day,
                                       window.end_day)
    return StepReport(metadata={"rows_written": built, "window": window.label}, checks=[])


def sample_day(conn: sa.Connection, entry: Integration, day: date,
               warehouse: Any) -> WindowReconciliation:
    resource: WarehouseResource = warehouse
    with resource.engine().connect() as wconn:
        return judge.reconcile(conn, wconn, _entry(entry), day, day + timedelta(days=1))


def _with_volume(step: Step, entry: StripeToWarehouseEntry) -> Step:
    """The balance-transaction step with the expected-volume check that knows peak days."""
    spec = volume_spec(step.key)

    def run(step_run: StepRun) -> StepReport:
        report = step.run(step_run)
        return StepReport(report.metadata,
                          [*report.checks, volume_result(step_run, entry, step.key)],
                          report.log)

    return Step(key=step.key, resource=step.resource, group=step.group, kinds=step.kinds,
                description=step.description, run=run,
                check_specs=[*step.check_specs, spec])


def table_key(entry: Integration, resource: str) -> dg.AssetKey:
    """`warehouse/stripe_<object>`: the warehouse table of one Stripe list."""
    return dg.AssetKey(entry.system_key("warehouse", f"stripe_{resource}"))


def pair_spec(entry: Integration) -> PairSpec:
    """The pair's spec for its catalog entry."""
    stripe_entry = _entry(entry)
    load_key = dg.AssetKey([entry.name, "warehouse_load"])
    read_back_key = dg.AssetKey(entry.system_key("warehouse", "stripe_tables"))  # the op
    keys = {r: table_key(entry, r) for r in OBJECTS}
    revenue_key = dg.AssetKey(entry.system_key("warehouse", "daily_revenue"))
    accounted = dg.AssetCheckSpec(ACCOUNTED, asset=load_key, blocking=True,
                                  description="Each Stripe object of the window is a "
                                  "warehouse row at its current version or has an open dead "
                                  "letter with the reason.")
    checks = {
        **{(r, RECONCILED): dg.AssetCheckSpec(
            RECONCILED, asset=keys[r], blocking=True,
            description=f"Each {r.replace('_', ' ')[:-1]} Stripe returned for the window "
            "has one row stating what Stripe states now (amount, currency, fee, net, amount "
            "refunded, status, type): none missing, extra, stale, wrong or duplicated.")
           for r in OBJECTS},
        ("payouts", PAYOUTS): dg.AssetCheckSpec(
            PAYOUTS, asset=keys["payouts"], blocking=True,
            description="For every paid automatic payout of the window, the net of the "
            "balance transactions Stripe lists for it equals its amount, in Stripe and in "
            "the warehouse. A payout that paid transactions of days not loaded yet is "
            "reported pending (with those days), not failed."),
        ("balance_transactions", TOTALS): dg.AssetCheckSpec(
            TOTALS, asset=keys["balance_transactions"], blocking=True,
            description="Per day, balance currency and reporting category, the count and "
            "the sums of amount, fee and net of the warehouse's balance transactions equal "
            "Stripe's."),
    }
    first, *others = object_steps(entry)
    return PairSpec(
        entry=stripe_entry, labels=judge.LABELS, sample=sample_day,
        extract=_with_volume(first, stripe_entry), also_extract=others,
        extra=changes_definitions,
        drift=[DriftCheck("stripe", first.key, "Stripe sent fields our models do not know "
                          "(recorded per model and field in contract_observations).")],
        sync=Step(key=load_key, resource="warehouse", group=entry.name,
                  kinds=frozenset({"postgres"}), check_specs=[accounted],
                  description="Loads the window's Stripe objects into typed warehouse tables "
                  "(a first load COPYed straight in, otherwise COPY into a staging table and "
                  "one MERGE per table): a re-load of an unchanged day writes nothing, a "
                  "changed object updates its row.",
                  run=lambda run: load_objects(run, accounted)),
        read_back=Step(key=read_back_key, resource="warehouse", group="warehouse",
                       kinds=frozenset({"postgres"}), check_specs=list(checks.values()),
                       description="The window's rows of the five Stripe tables read back and "
                       "reconciled against what Stripe states; repaired first under the "
                       "repair job.",
                       specs=[dg.AssetSpec(
                           keys[r], deps=[dg.AssetKey(entry.system_key("stripe", r))],
                           description=f"The warehouse table of Stripe "
                           f"{r.replace('_', ' ')} (`{stripe_entry.warehouse.schema_name}."
                           f"{stripe_entry.warehouse.table_prefix}{r}`), one row per object "
                           "at its current version; its materialization is the window read "
                           "back: rows, rows this run wrote, rows unchanged, and its checks.")
                           for r in OBJECTS],
                       run=lambda run: read_back_tables(run, keys, checks)),
        models=[Step(key=revenue_key, resource="warehouse", group="warehouse",
                     kinds=frozenset({"postgres"}), run=build_revenue,
                     deps=[keys["balance_transactions"]],
                     description="Gross, refunds, disputes, fees and net per day and balance "
                     "currency, from the reconciled balance transactions, built in SQL "
                     "(minor units, and major units at the edge).")],
    )
