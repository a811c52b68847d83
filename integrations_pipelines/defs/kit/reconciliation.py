"""A pair's reconciliation check result, from the shared judge's report of a window.

After every read-back of a window (the nightly job, the repair job, a backfill) the
pair's reader states both sides from the store, `reconciliation.window.reconcile_window`
classifies every key as missing, extra, wrong_values, stale, duplicate or ok with its likely
cause, and this module turns the report into the check's verdict: any discrepancy fails at
ERROR severity, which fails the run and opens an incident; the metadata (counts per class,
drift rate, causes, examples) is plotted per partition in the UI. Records with an open dead
letter and no destination record are accounted for (`dead_lettered`), not missing.

Pairs evaluate it in the read-back's own step, so it reports even when another blocking
check of that step fails; a separate `@asset_check` would be skipped after that failure.
"""

from collections.abc import Sequence

import dagster as dg

from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.reconciliation.result import DISCREPANCIES
from integrations_pipelines.reconciliation.window import WindowReconciliation

__all__ = ["EXAMPLES", "KEYS_SHOWN", "PARTITIONS_SEARCHED", "RUNS_PER_PARTITION",
           "reconciliation_result", "window_run_ids"]

EXAMPLES = 10
KEYS_SHOWN = 50
RUNS_PER_PARTITION = 20
PARTITIONS_SEARCHED = 31


def window_run_ids(instance: dg.DagsterInstance, partition_keys: Sequence[str],
                   current_run_id: str) -> set[str]:
    """This run and the recent runs of the window's partitions: whose failed vendor calls
    (429s, 401s) explain what is missing."""
    run_ids = {current_run_id}
    for key in list(partition_keys)[:PARTITIONS_SEARCHED]:
        records = instance.get_run_records(
            dg.RunsFilter(tags={"dagster/partition": key}), limit=RUNS_PER_PARTITION)
        run_ids.update(r.dagster_run.run_id for r in records)
    return run_ids


def reconciliation_result(report: WindowReconciliation, window: Window, check_name: str,
                          asset: dg.AssetKey, repair_job: str | None = None,
                          ) -> dg.AssetCheckResult:
    """The check's verdict and the metadata the UI plots (numbers) and shows (tables);
    `repair_job` is named in the metadata, so the alert says what to launch."""
    result, labels = report.result, report.frames.labels
    causes = report.cause_counts()
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset,
        passed=report.discrepant_count == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if report.discrepant_count == 0 else (
            f"{report.discrepant_count} of {report.frames.source_count} "
            f"{labels.source_record}s' {labels.destination_record}s disagree with "
            f"{labels.source.capitalize()} in {window.label}"),
        metadata={
            **report.counts,
            "discrepancies": report.discrepant_count,
            "drift_rate": float(report.drift_rate),
            f"{labels.source_record}s": report.frames.source_count,
            f"{labels.destination_record}s": report.destination_count,
            "window": window.label,
            "examples": dg.MetadataValue.md(report.examples_markdown(EXAMPLES)),
            "causes": dg.MetadataValue.json([
                {"class": str(r["class"]), "cause_code": r["cause_code"], "keys": int(r["keys"])}
                for _, r in causes.iterrows()]),
            "differing_fields": dg.MetadataValue.json(result.field_counts()),
            "discrepant_keys": dg.MetadataValue.json(
                {str(c): report.keys(c)[:KEYS_SHOWN] for c in DISCREPANCIES}),
            **({"repair_job": repair_job} if repair_job else {}),
        },
    )
