"""Drift warnings: the vendors sent fields our models do not know.

A new field is not an error (the payload still validated), but it is how contract changes
begin: a field that replaces another, an object that will soon replace a string. Each
extraction records such fields in `contract_observations` (`vendors/contracts.py`); these
checks read what the current run saw and warn (WARN severity, so the run stays green and
the alerting sensor posts a warning), naming every new field, its model and a sample.

The kit evaluates them in the step of the asset they are on (`defs/kit/in_step.py`), over
what the run has recorded so far: a pair puts the destination's on its read-back, the last
step of the job, so it sees what both the sync's writes and the read-back received.
"""

import dagster as dg

from integrations_pipelines.defs.resources import IntegrationStore
from integrations_pipelines.vendors.contracts import UNKNOWN_FIELD, observations

__all__ = ["CHECK_NAME", "EXAMPLES", "drift_result"]

CHECK_NAME = "no_contract_drift"
EXAMPLES = 20


def drift_result(store: IntegrationStore, vendor: str, asset: dg.AssetKey,
                 run_id: str) -> dg.AssetCheckResult:
    """WARN when this run recorded fields of `vendor` that no model or known list names."""
    with store.engine().connect() as conn:
        rows = list(observations(conn, vendor=vendor, kind=UNKNOWN_FIELD, run_id=run_id))
    return dg.AssetCheckResult(
        check_name=CHECK_NAME, asset_key=asset, passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{vendor} sent {len(rows)} field(s) our models do not know: "
                     + ", ".join(f"{r.model}.{r.field_path}" for r in rows[:EXAMPLES])
                     if rows else f"every {vendor} field is known to our models"),
        metadata={
            "unknown_fields": len(rows),
            "fields": dg.MetadataValue.json([
                {"model": r.model, "field": r.field_path, "detail": r.detail,
                 "first_seen_at": r.first_seen_at.isoformat(), "occurrences": r.occurrences,
                 "observation_id": r.id}
                for r in rows[:EXAMPLES]]),
        },
    )
