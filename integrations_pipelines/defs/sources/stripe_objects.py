"""The Stripe steps, one per list, shared by every pair whose source is a Stripe account.

`stripe/<object>` (charges, refunds, disputes, payouts, balance_transactions) holds the
objects created on the partition's day, validated against the project's models and stored
in the raw store; `stripe/payouts` also stores which balance transactions each automatic
payout paid. Each step evaluates three checks in its own step:

- `<object>_conform_to_contract` (blocking): objects that fail validation are dead-lettered
  and warn; every object of a non-empty window failing is a contract change (ERROR);
- `stripe_api_version_is_current` (warning): Stripe reported the pinned `Stripe-Version`
  back on every answer;
- `stripe_answered_without_outage` (warning): the step needed no retries; when Stripe
  answered 5xx, timed out or rate-limited, the step still finishes (the client retries
  with backoff within its budget) but the outage is an alert, with its retries, server
  errors, timeouts and time waited, and the same figures are on the materialization.

A pair's entry needs the catalog's `stripe:` block (`vendors.stripe.options.StripeOptions`).
"""

from __future__ import annotations

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit.spec import Step, StepReport, StepRun
from integrations_pipelines.defs.sources.stripe_resource import StripeResource
from integrations_pipelines.state import raw
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.sync.stripe_extraction import Extracted, store_window
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.stripe.client import Connection
from integrations_pipelines.vendors.stripe.options import StripeOptions
from integrations_pipelines.vendors.stripe.records import OBJECTS, kind

__all__ = ["API_VERSION_CHECK", "OUTAGE_CHECK", "contract_check_name", "object_steps",
           "outage_result", "stripe_options"]

API_VERSION_CHECK = "stripe_api_version_is_current"
OUTAGE_CHECK = "stripe_answered_without_outage"
EXAMPLES = 10


def contract_check_name(resource: str) -> str:
    return f"{resource}_conform_to_contract"


def stripe_options(entry: Integration) -> StripeOptions:
    """The entry's `stripe:` block; a clear error for an entry model without one."""
    options = getattr(entry, "stripe", None)
    if not isinstance(options, StripeOptions):
        raise TypeError(f"catalog entry {entry.name!r} ({type(entry).__name__}) has no "
                        "stripe: options block, so it cannot read Stripe")
    return options


def http_failure_figures(metrics: HttpMetrics, conn: Connection) -> dict[str, float | int]:
    """What the step's calls went through: retries, 429s, 5xx answers and timeouts (the
    transient failures the client retried), and the seconds spent waiting (backoff and the
    shared budget's pacing)."""
    return {"http_retries": metrics.retries, "http_429s": metrics.rate_limited,
            "http_5xx_or_timeouts": sum(s.retried for s in metrics.endpoints.values()),
            "waited_s": round(conn.waited_s, 3)}


def outage_result(asset: dg.AssetKey, figures: dict[str, float | int],
                  window: str) -> dg.AssetCheckResult:
    """WARN when the step's calls needed retries: Stripe was failing or throttling."""
    troubled = bool(figures["http_5xx_or_timeouts"] or figures["http_429s"])
    return dg.AssetCheckResult(
        check_name=OUTAGE_CHECK, asset_key=asset, passed=not troubled,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if not troubled else (
            f"Stripe failed {figures['http_5xx_or_timeouts']} call(s) with 5xx or a timeout "
            f"and rate-limited {figures['http_429s']} while extracting {window}; the client "
            f"retried {figures['http_retries']} time(s) and waited {figures['waited_s']} s. "
            "The window was extracted in full: nothing to re-run; check status.stripe.com "
            "if it repeats."),
        metadata={**figures, "likely_cause": "Stripe outage or throttling" if troubled
                  else "none"},
    )


def _contract(resource: str, asset: dg.AssetKey, out: Extracted,
              stored: int) -> dg.AssetCheckResult:
    everything_broke = out.dead_lettered > 0 and stored == 0
    return dg.AssetCheckResult(
        check_name=contract_check_name(resource), asset_key=asset,
        passed=out.dead_lettered == 0,
        severity=dg.AssetCheckSeverity.ERROR if everything_broke
        else dg.AssetCheckSeverity.WARN,
        description=None if not out.dead_lettered else (
            ("every object of the window failed validation: Stripe's contract changed. "
             if everything_broke else "")
            + f"{out.dead_lettered} {resource} dead-lettered at validation, {stored} stored"),
        metadata={"contract_violations": out.dead_lettered, f"{resource}_stored": stored},
    )


def _extract(resource: str, run: StepRun) -> StepReport:
    entry, window = run.entry, run.window
    options = stripe_options(entry)
    asset = dg.AssetKey(entry.system_key("stripe", resource))
    stripe: StripeResource = run.vendor
    conn = stripe.connect(run.metrics, run.store, run.run_id, options.api_version,
                          options.account)
    with vendor_failures(f"extracting Stripe {resource} {window.label}"), conn.client.http:
        out = store_window(run.engine, conn.client, entry, resource, options.account,
                           window.first_day, window.end_day, (window.start, window.end),
                           run.run_id)
    with run.engine.connect() as db:
        stored = raw.count_window(db, kind(resource, options.account), window.first_day,
                                  window.end_day)
        letters = dead_letters.open_letters(db, entry.name, start=window.first_day,
                                            end=window.end_day, stage="validate")
    served = dict(conn.client.served_versions)
    other = sorted(v for v in served if v != conn.client.api_version)
    version = dg.AssetCheckResult(
        check_name=API_VERSION_CHECK, asset_key=asset, passed=not other,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"asked for Stripe-Version {conn.client.api_version}, Stripe answered "
                     f"with {', '.join(other)}: move the catalog's stripe.api_version"
                     if other else None),
        metadata={"configured_version": conn.client.api_version,
                  "served_versions": dg.MetadataValue.json(served)})
    figures = http_failure_figures(run.metrics, conn)
    return StepReport(
        metadata={f"{resource}_extracted": out.extracted, f"{resource}_stored": out.stored,
                  f"{resource}_dead_lettered": out.dead_lettered, "rows_written": out.written,
                  "rows_deleted": out.deleted, "payout_items": out.payout_items,
                  "by_currency": dg.MetadataValue.json(out.by_currency),
                  "open_validation_letters": len(letters), **figures,
                  "window": window.label},
        checks=[_contract(resource, asset, out, stored), version,
                outage_result(asset, figures, window.label)],
        log=f"{out.extracted} Stripe {resource} extracted for {window.label}, "
            f"{out.dead_lettered} dead-lettered, {figures['http_retries']} retries")


def object_steps(entry: Integration) -> list[Step]:
    """The `stripe/<object>` steps of a pair reading Stripe, balance transactions first."""
    stripe_options(entry)  # fail at load, not at the first run
    steps = []
    for resource in ("balance_transactions", *(r for r in OBJECTS
                                               if r != "balance_transactions")):
        key = dg.AssetKey(entry.system_key("stripe", resource))
        steps.append(Step(
            key=key, resource="stripe", group="stripe", kinds=frozenset({"stripe", "postgres"}),
            description=f"Stripe {resource.replace('_', ' ')} created on the partition's day, "
            f"validated against the project's model and stored in the raw store "
            f"(`raw_records`, stripe/{resource})"
            + (", with each automatic payout's balance transactions as Stripe lists them"
               if resource == "payouts" else "") + f". Integration: {entry.description}",
            run=lambda run, r=resource: _extract(r, run),  # type: ignore[misc]
            check_specs=[
                dg.AssetCheckSpec(contract_check_name(resource), asset=key, blocking=True,
                                  description=f"Every {resource} object Stripe returned for "
                                  "the window validated and was stored; the others are "
                                  "dead-lettered with the error and their payload (a few "
                                  "warn; all of them is a contract change: ERROR)."),
                dg.AssetCheckSpec(API_VERSION_CHECK, asset=key, description="Stripe reported "
                                  "the pinned Stripe-Version back on every answer."),
                dg.AssetCheckSpec(OUTAGE_CHECK, asset=key, description="Stripe answered "
                                  "every call of the step without 5xx, timeouts or 429s; "
                                  "otherwise the step still completes through retries and "
                                  "this warns with the retries, failures and time waited."),
            ]))
    return steps
