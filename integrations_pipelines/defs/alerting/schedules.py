"""The orchestrator's own dead-man's switch: a schedule tick that did not produce a run.

A stopped daemon, a schedule turned off, a tick skipped or failed: each is silence, and no
run failure will ever report it. `missed_schedule_sensor` looks at every schedule of the code
location that is meant to run (running by default, or turned on), computes its latest tick
that is older than the grace period (`schedule_grace_minutes`), and expects a run of the
schedule's job created after that tick. None: an incident naming the tick, the schedule's
status and what the scheduler recorded for the tick (skipped and why, failed and the error,
or no tick at all). A run appearing resolves it. Ticks before the sensor first ran, or
before the schedule was turned on, are not expected; nor is the tick of a partitioned job
before its first partition exists (a pair that starts later than the others, the first night
of a new one: the scheduler rightly skips it). A schedule whose metadata says
`skips_are_expected` (the rolling reconciliation, with nothing to do in an integration's
first days) may skip a tick; a missing or failed tick still counts.

Tick times come from Dagster's own cron iteration (the scheduler's), in the schedule's
timezone, and "now" from Dagster's clock.
"""

import json
from datetime import datetime
from typing import Any

import dagster as dg
from dagster._time import get_current_datetime
from dagster._utils.schedules import schedule_execution_time_iterator

from integrations_pipelines.alerts.incidents import incident_subject
from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.alerting.routing import integration_for_run
from integrations_pipelines.defs.resources import IntegrationStore

__all__ = [
    "ERROR_CHARS", "NO_TICK", "RUNNING_STATES", "SKIPS_EXPECTED", "STATUS_WORDS",
    "has_partition_at", "latest_due_tick", "missed_alert", "missed_schedule_sensor",
    "schedule_states", "tick_cause", "watch_start",
]

RUNNING_STATES = ("RUNNING", "DECLARED_IN_CODE")
STATUS_WORDS = {"RUNNING": "running", "DECLARED_IN_CODE": "running (by default)",
                "STOPPED": "stopped"}
NO_TICK = ("no tick was recorded for it: the scheduler daemon (`dagster-daemon run`) was not "
           "running, or could not load the code location")
ERROR_CHARS = 300


def latest_due_tick(schedule: dg.ScheduleDefinition, due_before: datetime) -> datetime:
    """The schedule's latest tick at or before `due_before`, in its timezone."""
    ticks = schedule_execution_time_iterator(due_before.timestamp(), schedule.cron_schedule,
                                             schedule.execution_timezone or "UTC",
                                             ascending=False)
    return next(ticks)


def schedule_states(instance: dg.DagsterInstance) -> dict[str, Any]:
    """The instance's record of each schedule by name (status, the origin of its ticks)."""
    return {state.instigator_name: state for state in instance.all_instigator_state()
            if state.instigator_type.value == "SCHEDULE"}


def watch_start(schedule: dg.ScheduleDefinition, state: Any | None, since: float,
                ) -> float | None:
    """From when ticks are expected: None if the schedule is not meant to run."""
    default_on = schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    if state is None:
        return since if default_on else None
    if state.status.value in RUNNING_STATES:
        started = getattr(state.instigator_data, "start_timestamp", None) or since
        return max(since, started)
    return since if default_on else None  # turned off by hand although meant to run


SKIPS_EXPECTED = "skips_are_expected"  # schedule metadata: a skipped tick is not missed


def has_partition_at(partitions: dg.PartitionsDefinition | None, tick: datetime) -> bool:
    """Whether a tick at `tick` has a partition to run: a time-partitioned job has none before
    its first partition has ended (the scheduler skips that tick, and rightly so)."""
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return True
    first = partitions.get_first_partition_window()
    return first is not None and first.end <= tick


def tick_cause(instance: dg.DagsterInstance, state: Any | None, tick: datetime) -> str:
    """What the scheduler recorded for the tick, in words."""
    return _tick(instance, state, tick)[1]


def _tick(instance: dg.DagsterInstance, state: Any | None, tick: datetime,
          ) -> tuple[str | None, str]:
    """The recorded tick's status (None: no tick) and what it means, in words."""
    if state is None:
        return None, NO_TICK
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id,
                               after=tick.timestamp() - 1, limit=5)
    stopped = state.status.value not in RUNNING_STATES
    if not ticks:
        return None, "the schedule is turned off" if stopped else NO_TICK
    latest = ticks[0]
    status = latest.status.value
    if status == "SKIPPED":
        return status, f"the tick was skipped: {latest.skip_reason or 'no reason given'}"
    if status == "FAILURE":
        message = latest.error.message.strip().splitlines()[0] if latest.error else "?"
        return status, f"the tick failed: {message[:ERROR_CHARS]}"
    if status == "STARTED":
        return status, "the tick started but never finished: the scheduler is stuck or crashed"
    return status, "the tick reported a run that does not exist (deleted?)"


def missed_alert(schedule: dg.ScheduleDefinition, state: Any | None, tick: datetime,
                 now: datetime, cause: str, last_run: Any | None) -> Alert:
    """The incident observation of a tick without a run."""
    when = f"{tick:%Y-%m-%d %H:%M} {schedule.execution_timezone or 'UTC'}"
    status = (STATUS_WORDS.get(state.status.value, state.status.value) if state is not None
              else "never started by the scheduler daemon")
    details: dict[str, Any] = {
        "schedule": schedule.name, "job": schedule.job_name, "tick": when,
        "minutes_overdue": int((now - tick).total_seconds() // 60),
        "schedule_status": status,
        "last_run": (f"{last_run.dagster_run.run_id[:8]} {last_run.dagster_run.status.value}"
                     if last_run is not None else "none"),
    }
    return Alert(
        integration=integration_for_run(dict(getattr(schedule.job, "tags", {}) or {}),
                                        schedule.job_name),
        kind=AlertKind.SCHEDULE_MISSED, subject=incident_subject(schedule=schedule.name),
        summary=f"{schedule.name} did not start {schedule.job_name} for its {when} tick",
        details=details, cause=cause,
        run_id=last_run.dagster_run.run_id if last_run is not None else None,
    )


@dg.sensor(
    name="missed_schedule_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Raises an incident when a schedule's tick did not produce a run within the "
    "grace period (daemon down, schedule off, tick skipped or failed) and resolves it when a "
    "run of the job appears.",
)
def missed_schedule_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                           alerting: AlertingResource) -> dg.SkipReason:
    now = get_current_datetime()
    cursor = json.loads(context.cursor) if context.cursor else {}
    if "since" not in cursor:  # first tick: expect the ticks from now on
        context.update_cursor(json.dumps({"since": now.timestamp()}))
        return dg.SkipReason("armed: expecting schedule ticks from now on")
    manager = alerting.manager(store.engine())
    missed = []
    states = schedule_states(context.instance)
    assert context.repository_def is not None  # set whenever Dagster evaluates a sensor
    for schedule in context.repository_def.schedule_defs:
        state = states.get(schedule.name)
        start = watch_start(schedule, state, cursor["since"])
        if start is None:
            continue
        tick = latest_due_tick(schedule, now - alerting.schedule_grace)
        job = context.repository_def.get_job(schedule.job_name)
        if tick.timestamp() < start or not has_partition_at(job.partitions_def, tick):
            continue
        runs = context.instance.get_run_records(
            dg.RunsFilter(job_name=schedule.job_name, created_after=tick), limit=1,
            ascending=True)
        alert = missed_alert(schedule, state, tick, now, "", None)
        status, cause = _tick(context.instance, state, tick)
        may_skip = getattr(schedule.metadata.get(SKIPS_EXPECTED), "value", False) is True
        if runs or (status == "SKIPPED" and may_skip):
            manager.resolve(alert.integration, AlertKind.SCHEDULE_MISSED, alert.subject,
                            run_id=runs[0].dagster_run.run_id if runs else None,
                            summary=f"{schedule.name} started {schedule.job_name} for its "
                            f"{alert.details['tick']} tick" if runs else
                            f"{schedule.name} skipped its {alert.details['tick']} tick, "
                            f"as it may: {cause}")
            continue
        last = context.instance.get_run_records(dg.RunsFilter(job_name=schedule.job_name),
                                                limit=1)
        manager.raise_or_update(missed_alert(schedule, state, tick, now, cause,
                                             last[0] if last else None))
        missed.append(schedule.name)
    return dg.SkipReason(f"missed: {', '.join(missed)}" if missed else "no tick missed")

