"""What a pair gives the kit's factory: its three steps, its reader, its checks' names.

A pair of systems is three assets on one daily partitioning: the source's records of the
day in the raw store (`<source>/<records>`), the idempotent writes into the destination
(`<pair>/<sync>`), and the destination's records read back (`<destination>/<records>`).
Each asset is one `Step`: its key, the resource of the vendor it calls, the checks it
evaluates in its own step, and a function that calls the shared engines and returns what
the materialization reports (`StepReport`). The factory (`defs/kit/factory.py`) builds the
assets, the jobs, the schedules, the repair job and the sample job around them, so a pair
writes only what is its own: which client to build and which engine to call.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.alerting.volume import VolumeSpec
from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.defs.resources import IntegrationStore
from integrations_pipelines.reconciliation.frames import SideLabels
from integrations_pipelines.reconciliation.window import WindowReconciliation
from integrations_pipelines.vendors.metrics import HttpMetrics

__all__ = ["DriftCheck", "PairSpec", "Step", "StepReport", "StepRun"]


@dataclass(frozen=True)
class StepRun:
    """One materialization of a step: the window, the store, the step's vendor resource,
    the HTTP figures to fill, and whether the repair job asked for a repair first."""

    context: dg.AssetExecutionContext
    entry: Integration
    window: Window
    store: IntegrationStore
    vendor: Any  # the step's resource (e.g. a ShopifyResource), looked up by its key
    metrics: HttpMetrics
    repair: bool = False

    @property
    def run_id(self) -> str:
        run_id: str = self.context.run_id
        return run_id

    @property
    def engine(self) -> sa.Engine:
        return self.store.engine()


@dataclass(frozen=True)
class StepReport:
    """What a step reports: its figures (the factory adds the HTTP ones), the results of
    its own checks, and one log line for the run's log. A step of several assets adds each
    asset's own figures in `per_asset` (beside the step's, which every one of them shows)."""

    metadata: Mapping[str, Any]
    checks: Sequence[dg.AssetCheckResult]
    log: str | None = None
    per_asset: Mapping[dg.AssetKey, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One asset of a pair: its key and place in the UI, the vendor it calls (resource
    key, also its concurrency pool), the checks it evaluates, and the work."""

    key: dg.AssetKey
    resource: str
    group: str
    kinds: frozenset[str]
    description: str
    run: Callable[[StepRun], StepReport]
    check_specs: Sequence[dg.AssetCheckSpec] = ()
    # A step that materializes several assets (a warehouse load's tables, one per record
    # type): `key` then names the step (its op) and `specs` its assets, each with its own
    # description and upstream assets beyond the kit's wiring; its checks may be on any.
    specs: Sequence[dg.AssetSpec] = ()
    # The step's upstream assets instead of the kit's default (a model: the read-back's
    # assets); for a model that reads only some of them.
    deps: Sequence[dg.AssetKey] | None = None

    @property
    def keys(self) -> tuple[dg.AssetKey, ...]:
        """The assets the step materializes."""
        return tuple(spec.key for spec in self.specs) or (self.key,)


@dataclass(frozen=True)
class DriftCheck:
    """A per-run warning that `vendor` sent fields our models do not know, on `asset`."""

    vendor: str
    asset: dg.AssetKey
    description: str


@dataclass(frozen=True)
class PairSpec:
    """Everything the factory needs to build one pair's Dagster definitions.

    `sample`: the reader's reconciliation of one day from the store (the sample job's
    table), given the destination resource; `labels`: how jobs and reports name the sides.
    A source with several record types adds an extraction step per type beside `extract`
    (`also_extract`: each its own asset upstream of the sync, its blocking checks enforced
    by the read-back like the extraction's); `models` are assets built from the
    destination after the read-back (a warehouse model), run by the nightly and repair jobs.
    """

    entry: Integration
    labels: SideLabels
    extract: Step
    sync: Step
    read_back: Step
    sample: Callable[[sa.Connection, Integration, date, Any], WindowReconciliation]
    volume: VolumeSpec | None = None
    drift: Sequence[DriftCheck] = ()
    extra: Callable[[Integration], dg.Definitions] | None = None  # the pair's own sensors/jobs
    oauth_systems: Sequence[str] = field(default_factory=tuple)
    also_extract: Sequence[Step] = ()
    models: Sequence[Step] = ()

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def extractions(self) -> tuple[Step, ...]:
        """Every extraction step: `extract`, then `also_extract`."""
        return (self.extract, *self.also_extract)

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every step of the pair, upstream first."""
        return (*self.extractions, self.sync, self.read_back, *self.models)

    @property
    def asset_keys(self) -> tuple[dg.AssetKey, ...]:
        """Every asset of the pair's steps, upstream first."""
        return tuple(key for step in self.steps for key in step.keys)
