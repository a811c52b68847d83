"""Failed asset checks become incidents: Dagster OSS records them but tells no one.

`asset_check_alert_sensor` reads the instance's ASSET_CHECK_EVALUATION events after its
cursor (the event log's storage id, append-only) and, per check and partition, keeps the
latest evaluation: a failure at ERROR (critical) or WARN (warning) severity opens or repeats
an incident, a pass resolves the incidents of that check on that partition (or on every
partition a passing range covers). The volume checks are `volume` incidents, the others
`check_failure` (reconciliation and its siblings); the token check is left to
`token_health_sensor`. The partition is the evaluation's own, else the run's.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from integrations_pipelines.alerts.incidents import IncidentManager, incident_subject
from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.alerting.routing import (
    INTEGRATION_TAG,
    asset_tags,
    covers,
    integration_for_asset,
    parse_subject,
    partition_label,
)
from integrations_pipelines.defs.alerting.tokens import TOKEN_CHECK
from integrations_pipelines.defs.alerting.volume import ALERT_KIND
from integrations_pipelines.defs.resources import IntegrationStore

__all__ = [
    "BATCH", "CAUSE_KEYS", "EVALUATION", "MAX_DETAILS", "OWNED_ELSEWHERE", "alert_kind",
    "asset_check_alert_sensor", "check_alert", "counts", "likely_cause", "resolve_passed",
]

BATCH = 500
MAX_DETAILS = 10
OWNED_ELSEWHERE = {TOKEN_CHECK}  # by check name: the token sensor alerts on its own
EVALUATION = dg.DagsterEventType.ASSET_CHECK_EVALUATION
CAUSE_KEYS = ("likely_cause", "cause")
FIRST_KEYS = 5  # discrepant records an alert names


def alert_kind(evaluation: dg.AssetCheckEvaluation) -> AlertKind:
    """The incident kind a check's result names (`alert_kind`), else a check failure."""
    named = evaluation.metadata.get(ALERT_KIND)
    if named is not None and named.value in {str(k) for k in AlertKind}:
        return AlertKind(str(named.value))
    return AlertKind.CHECK_FAILURE


def counts(metadata: Mapping[str, dg.MetadataValue]) -> dict[str, Any]:
    """The numbers of an evaluation (at most ten, zeros dropped first), for the message."""
    numbers = {name: round(value.value, 3) if isinstance(value.value, float) else value.value
               for name, value in metadata.items()
               if isinstance(value.value, int | float) and not isinstance(value.value, bool)}
    if len(numbers) > MAX_DETAILS:
        numbers = {name: number for name, number in numbers.items() if number}
    return dict(list(numbers.items())[:MAX_DETAILS])


def likely_cause(metadata: Mapping[str, dg.MetadataValue]) -> str | None:
    """The cause an evaluation names: its `likely_cause` text, or reconciliation's causes."""
    for name in CAUSE_KEYS:
        if name in metadata and isinstance(cause := metadata[name].value, str):
            return cause
    causes = metadata.get("causes")
    if causes is not None and isinstance(causes.value, list) and causes.value:
        ranked = sorted(causes.value, key=lambda c: -int(c.get("keys", 0)))
        return "; ".join(f"{c.get('class')}: {c.get('cause_code')} ({c.get('keys')})"
                         for c in ranked[:5])
    return None


def first_action(metadata: Mapping[str, dg.MetadataValue], partition: str | None) -> str | None:
    """The job a failed check names (`repair_job`) with the day and its first discrepant
    records: what to launch, on what, so the reader need not look it up."""
    job = metadata.get("repair_job")
    if job is None or not isinstance(job.value, str):
        return None
    found = metadata.get("discrepant_keys")
    keys = [str(k) for ks in (found.value if found and isinstance(found.value, dict)
                              else {}).values() for k in ks][:FIRST_KEYS]
    day = f" for {partition}" if partition else ""
    records = f" (first records: {', '.join(keys)})" if keys else ""
    return f"Launch `{job.value}`{day}{records}: it re-syncs exactly the discrepant records."


def check_alert(evaluation: dg.AssetCheckEvaluation, partition: str | None, run_id: str | None,
                integration: str) -> Alert:
    """The incident observation of one failed evaluation."""
    asset = evaluation.asset_key.to_user_string()
    where = f" for {partition}" if partition else ""
    summary = f"{evaluation.check_name} failed on {asset}{where}"
    if evaluation.description:
        summary += f": {evaluation.description}"
    error = evaluation.severity == dg.AssetCheckSeverity.ERROR
    return Alert(
        integration=integration, kind=alert_kind(evaluation),
        subject=incident_subject(asset=asset, partition=partition, check=evaluation.check_name),
        summary=summary, details=counts(evaluation.metadata),
        cause=likely_cause(evaluation.metadata), run_id=run_id or None,
        asset_key=evaluation.asset_key.path,
        severity=Severity.CRITICAL if error else Severity.WARNING,
        action=first_action(evaluation.metadata, partition),
    )


def resolve_passed(manager: IncidentManager, evaluation: dg.AssetCheckEvaluation,
                   partition: str | None, run_id: str | None, integration: str) -> int:
    """Close the incidents of this check on every partition the passing evaluation covers."""
    asset = evaluation.asset_key.to_user_string()
    kind = alert_kind(evaluation)
    resolved = 0
    for row in manager.open_incidents(integration):
        parts = parse_subject(row.subject)
        if (row.kind == kind.value and parts.get("asset") == asset
                and parts.get("check") == evaluation.check_name
                and covers(partition, parts.get("partition"))):
            where = f" for {parts['partition']}" if parts.get("partition") else ""
            manager.resolve(integration, kind, row.subject, run_id=run_id or None,
                            asset_key=evaluation.asset_key.path,
                            summary=f"{evaluation.check_name} passes on {asset}{where}")
            resolved += 1
    return resolved


def _latest_evaluations(context: dg.SensorEvaluationContext, records: list[Any],
                        ) -> dict[tuple[Any, ...], tuple[dg.AssetCheckEvaluation, str | None,
                                                         str, str]]:
    """The latest evaluation per (check, partition) of a batch, with its run and integration."""
    assert context.repository_def is not None  # set whenever Dagster evaluates a sensor
    tags_by_run: dict[str, Mapping[str, str]] = {}
    latest: dict[tuple[Any, ...], tuple[dg.AssetCheckEvaluation, str | None, str, str]] = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
        if key.name in OWNED_ELSEWHERE:
            continue
        run_id = record.event_log_entry.run_id or ""
        if run_id and run_id not in tags_by_run:
            run = context.instance.get_run_by_id(run_id)
            tags_by_run[run_id] = run.tags if run is not None else {}
        tags = tags_by_run.get(run_id, {})
        partition = evaluation.partition or partition_label(tags)
        integration = tags.get(INTEGRATION_TAG) or integration_for_asset(
            evaluation.asset_key.path, asset_tags(context.repository_def, evaluation.asset_key))
        latest[(key, partition)] = (evaluation, partition, run_id, integration)
    return latest


@dg.sensor(
    name="asset_check_alert_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns failed asset checks (ERROR: critical, WARN: warning) into incidents, "
    "one per check and partition, and resolves them when the check passes again: "
    "reconciliation, accounting, contract and expected-volume checks alike.",
)
def asset_check_alert_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                             alerting: AlertingResource) -> dg.SkipReason:
    storage = context.instance.event_log_storage
    if context.cursor is None:  # first tick: watch from now on, do not page about history
        newest = storage.get_event_records(dg.EventRecordsFilter(event_type=EVALUATION),
                                           limit=1, ascending=False)
        context.update_cursor(str(newest[0].storage_id if newest else 0))
        return dg.SkipReason("armed: watching check evaluations from now on")
    records = list(storage.get_event_records(
        dg.EventRecordsFilter(event_type=EVALUATION, after_cursor=int(context.cursor)),
        limit=BATCH, ascending=True))
    if not records:
        return dg.SkipReason("no new check evaluations")
    manager = alerting.manager(store.engine())
    failed, resolved = 0, 0
    for evaluation, partition, run_id, integration in _latest_evaluations(
            context, records).values():
        if evaluation.passed:
            resolved += resolve_passed(manager, evaluation, partition, run_id, integration)
        else:
            manager.raise_or_update(check_alert(evaluation, partition, run_id, integration))
            failed += 1
    context.update_cursor(str(records[-1].storage_id))
    return dg.SkipReason(f"{len(records)} evaluations read: {failed} failing, "
                         f"{resolved} incidents resolved")
