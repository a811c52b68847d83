"""Failed runs become incidents (one per job and partition); a later success resolves them.

`run_failure_alert_sensor` (Dagster's run-failure sensor over every job of the code location)
names the failed step, the error, the vendor failure class the step recorded (credentials,
contract drift, a permanent or an exhausted transient vendor error), and the vendor calls
that failed during the run. A run that failed only because a blocking check failed is left
to `asset_check_alert_sensor`, whose message carries the check's findings: one incident,
not two. `run_recovery_sensor` resolves a job's incident when a run of the same job succeeds
for the same partition (or for a range covering it) and no run of it failed since.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.alerting.routing import (
    PARTITION_TAG,
    RANGE_SEPARATOR,
    covers,
    integration_for_run,
    job_subject,
    parse_subject,
    partition_label,
)
from integrations_pipelines.defs.resources import IntegrationStore
from integrations_pipelines.state import http_failures

__all__ = [
    "CAUSES", "CHECK_FAILED_ERROR", "ERROR_CHARS", "WRAPPERS", "failed_since",
    "is_blocking_check_failure", "run_failure_alert", "run_failure_alert_sensor",
    "run_recovery_sensor", "step_error", "step_reason", "vendor_call_failures",
]

CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"
WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")
ERROR_CHARS = 600
CAUSES = {
    "credentials": "the vendor rejected the connection's credentials: its refresh token was "
    "revoked or has expired",
    "contract_drift": "the vendor's response no longer matches the project's model (contract "
    "drift); the failure holds the offending payload",
    "permanent_vendor_error": "the vendor refused the request for good (HTTP {status}); "
    "retrying the same request cannot help",
    "transient_exhausted": "the vendor kept failing through every retry (HTTP {status}): an "
    "outage or a rate limit",
}


def _first_line(text: str) -> str:
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 1] + "…"


def step_error(event: dg.DagsterEvent) -> Any | None:
    """The error a step raised, without Dagster's wrapper around user code."""
    data = event.step_failure_data
    error = data.error if data is not None else None
    while error is not None and error.cls_name in WRAPPERS and error.cause is not None:
        error = error.cause
    return error


def step_reason(event: dg.DagsterEvent) -> tuple[str, dict[str, Any]]:
    """What a failed step said, and the metadata of its `dagster.Failure` (if any)."""
    data = event.step_failure_data
    user = data.user_failure_data if data is not None else None
    metadata = {k: v.value for k, v in (user.metadata if user else {}).items()}
    if user is not None and user.description:
        return _first_line(user.description), metadata
    error = step_error(event)
    if error is not None:
        return _first_line(error.message), metadata
    return _first_line(event.message or "failed"), metadata


def is_blocking_check_failure(event: dg.DagsterEvent) -> bool:
    data = event.step_failure_data
    return bool(data and data.error and data.error.cls_name == CHECK_FAILED_ERROR)


def vendor_call_failures(engine: sa.Engine, run_id: str) -> dict[str, int]:
    """How many vendor calls failed during the run (kept by the HTTP client), and 429s."""
    with engine.connect() as conn:
        total, limited = http_failures.counts_for_run(conn, run_id)
    return {"failed_vendor_calls": total, "http_429s": limited}


def run_failure_alert(run: dg.DagsterRun, failures: Sequence[dg.DagsterEvent],
                      run_message: str | None, calls: dict[str, int]) -> Alert:
    """The incident observation of a failed run."""
    partition = partition_label(run.tags)
    where = f" for {partition}" if partition else ""
    details: dict[str, Any] = {"job": run.job_name, "partition": partition or "none",
                               "failed_steps": len(failures)}
    cause = None
    if failures:
        reason, metadata = step_reason(failures[0])
        steps = ", ".join(e.step_key or "?" for e in failures)
        summary = f"{run.job_name}{where} failed in step {steps}: {reason}"
        template = CAUSES.get(str(metadata.get("cause")))
        if template is not None:
            cause = template.format(status=metadata.get("status") or "?")
            details.update({k: metadata[k] for k in ("cause", "vendor", "status")
                            if metadata.get(k) not in (None, "")})
        elif (error := step_error(failures[0])) is not None:
            cause = (f"an unexpected {error.cls_name} in the step: a bug, or a problem of "
                     "the environment")
    else:
        summary = f"{run.job_name}{where} failed: {_first_line(run_message or 'run failed')}"
    details.update({k: v for k, v in calls.items() if v})
    return Alert(
        integration=integration_for_run(run.tags, run.job_name), kind=AlertKind.RUN_FAILURE,
        subject=job_subject(run.job_name, partition), summary=summary, details=details,
        cause=cause, run_id=run.run_id,
    )


def failed_since(instance: dg.DagsterInstance, job_name: str, partition: str | None,
                 since: float) -> bool:
    """Did a run of the job (for that partition) fail after `since`? A success the sensor
    sees late must not resolve a newer failure."""
    tags = {PARTITION_TAG: partition} if partition and RANGE_SEPARATOR not in partition else {}
    return bool(instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.FAILURE], tags=tags,
                      updated_after=datetime.fromtimestamp(since, UTC)), limit=1))


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Opens (or repeats) one incident per job and partition when a run fails, "
    "naming the failed step, its error, the vendor failure class and the failed vendor calls.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, store: IntegrationStore,
                             alerting: AlertingResource) -> None:
    run = context.dagster_run
    failures = context.get_step_failure_events()
    if failures and all(is_blocking_check_failure(e) for e in failures):
        context.log.info(f"run {run.run_id} failed on a blocking check: "
                         "asset_check_alert_sensor reports it")
        return
    engine = store.engine()
    alert = run_failure_alert(run, failures, context.failure_event.message,
                              vendor_call_failures(engine, run.run_id))
    alerting.manager(engine).raise_or_update(alert)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="run_recovery_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Resolves a job's run-failure incident when a run of the same job succeeds "
    "for the same partition (or a range covering it).",
)
def run_recovery_sensor(context: dg.RunStatusSensorContext, store: IntegrationStore,
                        alerting: AlertingResource) -> None:
    run = context.dagster_run
    integration = integration_for_run(run.tags, run.job_name)
    label = partition_label(run.tags)
    record = context.instance.get_run_record_by_id(run.run_id)
    succeeded_at = (record.end_time if record and record.end_time
                    else datetime.now(UTC).timestamp())
    manager = alerting.manager(store.engine())
    for row in manager.open_incidents(integration):
        parts = parse_subject(row.subject)
        if (row.kind == AlertKind.RUN_FAILURE.value and parts.get("job") == run.job_name
                and covers(label, parts.get("partition"))
                and not failed_since(context.instance, run.job_name, parts.get("partition"),
                                     succeeded_at)):
            where = f" for {parts['partition']}" if parts.get("partition") else ""
            manager.resolve(integration, AlertKind.RUN_FAILURE, row.subject, run_id=run.run_id,
                            summary=f"{run.job_name}{where} succeeded")
