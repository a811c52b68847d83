"""The run's verdict on the promises of a pair's earlier steps.

A pair declares its promises as blocking checks wherever they are (the extraction's
contract, the sync's "nothing pending", the read-back's reconciliation). Dagster's own
blocking ends the run in the step whose check failed, and Dagster plans every check of a run
when the run starts: a check of a later step that never ran then shows as "Execution failed"
(red) in the UI, as if it had run and broken. So the kit keeps Dagster's blocking for the
read-back, the last step, and defers the earlier steps' blocking checks to it: they report
and alert as they fail, the later steps run and every check of the run reports what it
found, and the read-back fails the run once its own checks have reported if an earlier
promise failed at ERROR in this run. Reading back and reconciling is read-only, so nothing
is written after a broken promise that was not written before.
"""

from collections.abc import Iterable, Sequence

import dagster as dg
from dagster._core.errors import DagsterAssetCheckFailedError

__all__ = ["deferred", "fail_on_broken_promises", "failed_promises", "non_blocking"]


def non_blocking(specs: Iterable[dg.AssetCheckSpec]) -> list[dg.AssetCheckSpec]:
    """The specs as Dagster sees them in an earlier step: never blocking there."""
    return [spec._replace(blocking=False) if spec.blocking else spec for spec in specs]


def deferred(specs: Iterable[dg.AssetCheckSpec]) -> list[dg.AssetCheckKey]:
    """The keys of the blocking checks the read-back will enforce."""
    return [spec.key for spec in specs if spec.blocking]


def failed_promises(instance: dg.DagsterInstance, run_id: str,
                    promises: Sequence[dg.AssetCheckKey]) -> list[dg.AssetCheckKey]:
    """The promises that failed at ERROR in this run (their latest evaluation in it)."""
    if not promises:
        return []
    wanted, latest = set(promises), {}
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000).records
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.asset_check_evaluation_data if event else None
        if evaluation is not None and evaluation.asset_check_key in wanted:
            latest[evaluation.asset_check_key] = evaluation
    return [key for key in promises if key in latest and not latest[key].passed
            and latest[key].severity == dg.AssetCheckSeverity.ERROR]


def fail_on_broken_promises(context: dg.AssetExecutionContext,
                            promises: Sequence[dg.AssetCheckKey]) -> None:
    """Fail the read-back (and so the run) if an earlier step's promise failed in this run;
    the error is Dagster's own for a failed blocking check, so the run-failure alert leaves
    it to the check's own incident."""
    broken = failed_promises(context.instance, context.run_id, promises)
    if broken:
        raise DagsterAssetCheckFailedError(
            f"{len(broken)} blocking asset check(s) of an earlier step failed with ERROR "
            "severity (every check of the run has reported):\n"
            + "\n".join(key.to_user_string() for key in broken))
