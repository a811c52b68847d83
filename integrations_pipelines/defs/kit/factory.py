"""One factory for every pair: its catalog entry and `PairSpec` in, its Definitions out.

`build_pair(spec)` gives the pair's three assets (with the catalog's freshness policy on the
extracted systems' ones), their checks with the expected-volume and drift checks evaluated
in the same steps (`in_step.py`), the nightly,
repair and rolling-reconciliation jobs with their schedules, and the sample job; the pair's
own extras (sensors, change capture, webhooks) are merged in. `definitions.py` merges every
pair's Definitions with the project-wide alerting.
"""

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from integrations_pipelines.defs.alerting.freshness import freshness_policy
from integrations_pipelines.defs.kit.assets import build_asset
from integrations_pipelines.defs.kit.in_step import InStepCheck, in_step_checks
from integrations_pipelines.defs.kit.jobs import pair_jobs
from integrations_pipelines.defs.kit.sampling import sample_job
from integrations_pipelines.defs.kit.spec import PairSpec, Step
from integrations_pipelines.defs.kit.verdict import deferred

__all__ = ["build_pair", "pair_assets", "shared_keys"]


def _fresh(asset: dg.AssetsDefinition, policy: dg.FreshnessPolicy) -> dg.AssetsDefinition:
    """The asset carrying the policy (Dagster's freshness daemon evaluates it)."""
    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        applied: dg.AssetSpec = dg.apply_freshness_policy(spec, policy)
        return applied

    fresh: dg.AssetsDefinition = dg.map_asset_specs(attach, [asset])[0]
    return fresh


def pair_assets(spec: PairSpec) -> list[dg.AssetsDefinition]:
    """The pair's extraction, sync and read-back assets, in that order of dependency; the
    two that hold a system's records carry the entry's freshness policy."""
    policy = freshness_policy(spec.entry)
    checks = in_step_checks(spec)
    promises = deferred([*(c for s in spec.extractions for c in s.check_specs),
                         *spec.sync.check_specs])
    return [
        *(_fresh(build_asset(spec.entry, step, deps=[], checks=_of(checks, step)),
                 policy) for step in spec.extractions),
        build_asset(spec.entry, spec.sync, deps=[k for s in spec.extractions for k in s.keys],
                    checks=_of(checks, spec.sync)),
        _fresh(build_asset(spec.entry, spec.read_back, deps=list(spec.sync.keys),
                           read_back=True, checks=_of(checks, spec.read_back),
                           promises=promises), policy),
        *(build_asset(spec.entry, model, deps=list(model.deps or spec.read_back.keys),
                      checks=_of(checks, model)) for model in spec.models),
    ]


def _of(checks: Mapping[dg.AssetKey, Sequence[InStepCheck]], step: Step) -> list[InStepCheck]:
    """The kit's checks of a step's assets."""
    return [check for key in step.keys for check in checks.get(key, ())]


def build_pair(spec: PairSpec) -> dg.Definitions:
    """Everything Dagster runs for one pair, from its spec."""
    jobs = pair_jobs(spec)
    built = dg.Definitions(
        assets=pair_assets(spec),
        jobs=[*jobs.jobs, sample_job(spec)], schedules=jobs.schedules,
    )
    if spec.extra is None:
        return built
    return dg.Definitions.merge(built, spec.extra(spec.entry))


def shared_keys(specs: Iterable[PairSpec]) -> dict[dg.AssetKey, list[str]]:
    """Asset keys that two pairs both declare, with the pairs: the catalog needs the
    account or integration prefix the asset-key rule prescribes (ARCHITECTURE.md)."""
    owners: dict[dg.AssetKey, list[str]] = {}
    for spec in specs:
        for key in spec.asset_keys:
            owners.setdefault(key, []).append(spec.name)
    return {key: names for key, names in owners.items() if len(names) > 1}
