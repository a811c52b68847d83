"""The integration kit's Dagster half: a pair's definitions built from its spec."""

from integrations_pipelines.defs.kit.assets import ReadBackConfig, http_metadata
from integrations_pipelines.defs.kit.factory import build_pair, pair_assets, shared_keys
from integrations_pipelines.defs.kit.spec import DriftCheck, PairSpec, Step, StepReport, StepRun

__all__ = ["DriftCheck", "PairSpec", "ReadBackConfig", "Step", "StepReport", "StepRun",
           "build_pair", "http_metadata", "pair_assets", "shared_keys"]
