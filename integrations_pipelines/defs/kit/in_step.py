"""The checks the kit adds to a pair's steps, evaluated inside the step of the asset they
check: expected volume (baseline on the source asset, keep-up on the destination asset) and
contract drift (per vendor, on the asset the pair names).

Why in the step, not as separate `@asset_check` ops: a check op runs after its asset's step
and only if that step succeeded. When a blocking check of the step failed, Dagster failed
the step, never ran the check ops, and resolved them, planned in a failed run, as "Execution
failed" in the UI: the read-back read "0/4 Passed" while two had failed and two had not run.
Evaluated in the step, every check of an asset reports what it found whenever the asset
materializes, before any blocking failure ends the step.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from integrations_pipelines.defs.alerting.volume import (
    VolumeSpec,
    baseline_result,
    baseline_spec,
    keep_up_result,
    keep_up_spec,
)
from integrations_pipelines.defs.kit.drift import CHECK_NAME as DRIFT_CHECK
from integrations_pipelines.defs.kit.drift import drift_result
from integrations_pipelines.defs.kit.spec import DriftCheck, PairSpec, StepRun

__all__ = ["InStepCheck", "in_step_checks"]


@dataclass(frozen=True)
class InStepCheck:
    """A check the kit evaluates in the step of `spec.asset_key`, after the step's own work
    and checks; `resources`: the resource keys it needs beyond the step's."""

    spec: dg.AssetCheckSpec
    evaluate: Callable[[StepRun], dg.AssetCheckResult]
    resources: frozenset[str] = frozenset()


def _drift(drift: DriftCheck) -> InStepCheck:
    return InStepCheck(
        dg.AssetCheckSpec(DRIFT_CHECK, asset=drift.asset, description=drift.description),
        lambda run: drift_result(run.store, drift.vendor, drift.asset, run.run_id))


def _volume(volume: VolumeSpec) -> list[InStepCheck]:
    account = volume.account_resource
    return [
        InStepCheck(baseline_spec(volume),
                    lambda run: baseline_result(run.context.instance, run.engine, run.window,
                                                volume)),
        InStepCheck(keep_up_spec(volume),
                    lambda run: keep_up_result(run.engine,
                                               getattr(run.context.resources, account),
                                               run.window, volume),
                    frozenset({account})),
    ]


def in_step_checks(spec: PairSpec) -> dict[dg.AssetKey, Sequence[InStepCheck]]:
    """The kit's checks of each of the pair's assets, by asset key; a check on an asset that
    is none of the pair's three steps fails at load, naming it."""
    checks = [_drift(d) for d in spec.drift]
    if spec.volume is not None:
        checks += _volume(spec.volume)
    steps = set(spec.asset_keys)
    by_asset: dict[dg.AssetKey, list[InStepCheck]] = {}
    for check in checks:
        if check.spec.asset_key not in steps:
            raise ValueError(f"pair {spec.name!r}: check {check.spec.name!r} is on "
                             f"{check.spec.asset_key.to_user_string()}, which is not one of "
                             "its steps' assets")
        by_asset.setdefault(check.spec.asset_key, []).append(check)
    return dict(by_asset)
