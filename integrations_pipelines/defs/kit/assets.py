"""A pair's three assets, built from its `Step`s: the factory's part every pair shares.

Each asset reads its window, builds one `StepRun` (the step's vendor resource looked up by
its key, fresh HTTP figures), calls the step, and reports the step's figures plus the HTTP
ones (requests, retries, 429s, p95 latency, per endpoint) so the UI plots them per
partition. A step of several assets (`Step.specs`) is one op materializing each, with that
asset's own figures and checks. The read-back repairs its window first in the pair's repair
job, however it was launched (the UI, a sensor, GraphQL or `dagster job launch` without run
config), and anywhere else when the run config says `repair: true`.

Every check of an asset is evaluated in its step (the step's own, then the kit's volume and
drift checks, `in_step.py`). Dagster blocks only on the read-back's checks; the earlier
steps' blocking checks are enforced by the read-back once its own checks have reported
(`verdict.py`), so every check of a run shows what it found.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.kit.in_step import InStepCheck
from integrations_pipelines.defs.kit.spec import Step, StepRun
from integrations_pipelines.defs.kit.verdict import fail_on_broken_promises, non_blocking
from integrations_pipelines.defs.partitions import daily_partitions, run_window
from integrations_pipelines.vendors.metrics import HttpMetrics

__all__ = [
    "ReadBackConfig", "build_asset", "http_metadata", "repair_job_name", "repair_run_config",
]


class ReadBackConfig(dg.Config):
    """`repair: true` repairs the window's discrepancies before reading it back."""

    repair: bool = False


def http_metadata(metrics: HttpMetrics) -> dict[str, Any]:
    """Numeric HTTP figures so the UI plots retries, 429s and latency over time."""
    return {
        "http_requests": metrics.requests,
        "http_retries": metrics.retries,
        "http_429s": metrics.rate_limited,
        "http_p95_ms": round(metrics.p95_ms(), 1),
        "http_by_endpoint": dg.MetadataValue.json(metrics.summary()),
    }


def repair_job_name(pair: str) -> str:
    """The name of a pair's repair job (alerts name it)."""
    return f"{pair}_repair_job"


def repair_run_config(read_back: dg.AssetKey) -> dict[str, Any]:
    """The run config that makes the read-back repair its window first."""
    return {"ops": {read_back.to_python_identifier(): {"config": {"repair": True}}}}


def _report(step: Step, checks: Sequence[InStepCheck],
            run: StepRun) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    """One materialization per asset of the step (the step's figures, the HTTP ones and
    the asset's own), each carrying the results of its own checks."""
    report = step.run(run)
    if report.log:
        run.context.log.info(report.log)
    results = [*report.checks, *(check.evaluate(run) for check in checks)]
    shared = {**report.metadata, **http_metadata(run.metrics)}
    if not step.specs:
        yield dg.MaterializeResult(metadata=shared, check_results=results)
        return
    for key in step.keys:
        yield dg.MaterializeResult(
            asset_key=key, metadata={**shared, **report.per_asset.get(key, {})},
            check_results=[r for r in results if r.asset_key == key])


def build_asset(entry: Integration, step: Step, deps: list[dg.AssetKey],
                read_back: bool = False, checks: Sequence[InStepCheck] = (),
                promises: Sequence[dg.AssetCheckKey] = ()) -> dg.AssetsDefinition:
    """The asset of one step, daily-partitioned by the entry, tagged with its integration
    (alerts route by the tag), owned by the entry's owner, in the vendor's pool (one pool
    per vendor in dagster.yaml: its runs share the vendor's budget); a backfill runs
    `backfill_days_per_run` days per run (one by default: per-day figures, bounded memory).
    `checks`: the kit's checks of this asset, evaluated after the step's own. Only the
    read-back's checks block in Dagster; it enforces the earlier steps' blocking checks
    (`promises`) after its own have reported (`verdict.py`)."""
    specs = [*step.check_specs, *(check.spec for check in checks)]
    check_specs = specs if read_back else non_blocking(specs)
    resources = {"store", step.resource, *(key for check in checks for key in check.resources)}
    policy = dg.BackfillPolicy.multi_run(entry.backfill_days_per_run)
    owners, tags = [entry.owner, entry.owner_email], {"integration": entry.name}
    decorate: Callable[[Callable[..., Any]], dg.AssetsDefinition]
    if step.specs:  # one op, several assets: each with the kit's wiring added
        decorate = dg.multi_asset(
            name=step.key.to_python_identifier(), description=step.description,
            specs=[spec.replace_attributes(group_name=step.group, partitions_def=None)
                   .merge_attributes(deps=[d for d in deps if d not in
                                           {dep.asset_key for dep in spec.deps}],
                                     kinds=set(step.kinds), owners=owners, tags=tags)
                   for spec in step.specs],
            check_specs=check_specs, pool=step.resource,
            partitions_def=daily_partitions(entry), backfill_policy=policy,
            required_resource_keys=resources)
    else:
        decorate = dg.asset(
            key=step.key, deps=deps, pool=step.resource, group_name=step.group,
            kinds=set(step.kinds), description=step.description, check_specs=check_specs,
            partitions_def=daily_partitions(entry), tags=tags, backfill_policy=policy,
            owners=owners, required_resource_keys=resources)

    def start(context: dg.AssetExecutionContext, repair: bool) -> StepRun:
        return StepRun(context=context, entry=entry, window=run_window(context),
                       store=context.resources.store,
                       vendor=getattr(context.resources, step.resource),
                       metrics=HttpMetrics(), repair=repair)

    # Dagster reads the annotation when it builds the asset and recognises only the bare
    # `dg.MaterializeResult` (hence `type: ignore[type-arg]`); a config parameter is how an
    # asset takes run config, so the read-back has its own signature.
    if read_back:
        def read_back_asset(context: dg.AssetExecutionContext, config: ReadBackConfig,
                            ) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
            # The repair job's own default config says `repair: true`, but a launch that
            # sends an empty run config (GraphQL, `dagster job launch`) would get the
            # field's default: in the repair job the read-back repairs whatever the config.
            repair = config.repair or context.job_name == repair_job_name(entry.name)
            yield from _report(step, checks, start(context, repair))
            fail_on_broken_promises(context, promises)

        return decorate(read_back_asset)

    def step_asset(context: dg.AssetExecutionContext,
                   ) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
        yield from _report(step, checks, start(context, False))

    return decorate(step_asset)
