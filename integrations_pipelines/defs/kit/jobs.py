"""A pair's jobs and schedules: nightly, repair, and the rolling reconciliation.

- `<pair>_job` runs the three steps for one day (or a backfill range), each step checking
  its promise before the next one runs; `<pair>_job_schedule` runs yesterday's partition at
  the catalog's `schedule` time, in its timezone.
- `<pair>_repair_job` runs the read-back with `repair: true`: it re-syncs exactly the
  window's discrepant records through the nightly write path, reads back and re-checks, so
  the run itself proves the repair.
- `<pair>_rolling_reconciliation_job` and its schedule, an hour after the nightly run,
  re-run the steps over the catalog's `change_capture.rolling_days` before yesterday, a week
  per run (its extraction and sync hold a page of records at a time, its read-back and
  reconciliation the week's): what the change feed missed is synced, and what still differs
  is classified with its cause.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.kit.assets import repair_job_name, repair_run_config
from integrations_pipelines.defs.kit.spec import PairSpec
from integrations_pipelines.defs.partitions import daily_partitions

__all__ = [
    "CHUNK_DAYS", "RANGE_END", "RANGE_START", "PairJobs", "pair_jobs", "repair_job_name",
    "rolling_ranges",
]

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
CHUNK_DAYS = 7  # days per rolling-reconciliation run: its read-back holds the week's records


def rolling_ranges(entry: Integration, today: date) -> list[tuple[date, date]]:
    """The days the rolling reconciliation re-reads, as [first, last] ranges of at most a
    week: the entry's rolling_days before yesterday (yesterday is the nightly run's), never
    before the first partition."""
    last = today - timedelta(days=2)
    first = max(today - timedelta(days=1 + entry.change_capture.rolling_days),
                entry.partitions_start)
    ranges = []
    while first <= last:
        end = min(first + timedelta(days=CHUNK_DAYS - 1), last)
        ranges.append((first, end))
        first = end + timedelta(days=1)
    return ranges


# `dg.define_asset_job` returns a job resolved when the Definitions load, whose class
# Dagster does not export; and a partitioned schedule's class is private too.
AssetJob = Any
Schedule = Any


@dataclass(frozen=True)
class PairJobs:
    """The jobs and schedules of one pair."""

    nightly: AssetJob
    repair: AssetJob
    rolling: AssetJob
    nightly_schedule: Schedule
    rolling_schedule: dg.ScheduleDefinition

    @property
    def jobs(self) -> list[AssetJob]:
        return [self.nightly, self.repair, self.rolling]

    @property
    def schedules(self) -> list[Schedule]:
        return [self.nightly_schedule, self.rolling_schedule]


def _rolling_schedule(spec: PairSpec, job: AssetJob) -> dg.ScheduleDefinition:
    entry = spec.entry

    def evaluate(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        zone = ZoneInfo(entry.timezone)
        moment = context.scheduled_execution_time or datetime.now(zone)
        ranges = rolling_ranges(entry, moment.astimezone(zone).date())
        if not ranges:
            return dg.SkipReason("no closed day before yesterday yet")
        return [dg.RunRequest(run_key=f"rolling:{first.isoformat()}..{last.isoformat()}",
                              tags={RANGE_START: first.isoformat(),
                                    RANGE_END: last.isoformat()})
                for first, last in ranges]

    decorate: Callable[..., dg.ScheduleDefinition] = dg.schedule(
        name=f"{job.name}_schedule", job=job,
        cron_schedule=f"{entry.schedule.minute} {(entry.schedule.hour + 1) % 24} * * *",
        execution_timezone=entry.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        metadata={"skips_are_expected": True},  # nothing to do in the integration's first days
        description="Nightly, an hour after the nightly run: the whole job over the last "
        "change_capture.rolling_days days before yesterday, one run per week of days (the "
        "read-back holds the week's records). Both sides are read again, so a change the "
        "change feed missed is synced and anything still different is classified, with its "
        "cause, by the reconciliation check.",
    )
    return decorate(evaluate)


def pair_jobs(spec: PairSpec) -> PairJobs:
    """The pair's nightly, repair and rolling jobs with their schedules."""
    name, entry, labels = spec.name, spec.entry, spec.labels
    partitions = daily_partitions(entry)
    steps = dg.AssetSelection.assets(*spec.asset_keys)
    tags = {"integration": name}
    nightly = dg.define_asset_job(
        f"{name}_job", selection=steps, partitions_def=partitions, tags=tags,
        description=f"Extract one day's {labels.source} {labels.source_record}s, sync them "
        f"into {labels.destination} {labels.destination_record}s, and read those back; each "
        "step checks its promise before the next one runs.",
    )
    repair = dg.define_asset_job(
        repair_job_name(name),
        selection=dg.AssetSelection.assets(
            *spec.read_back.keys, *(key for m in spec.models for key in m.keys)),
        partitions_def=partitions, config=repair_run_config(spec.read_back.key), tags=tags,
        description=f"Re-sync exactly the discrepant {labels.destination_record}s of a "
        "partition (or a range), then read the window back and re-run its checks: the run "
        "passes when nothing is left.",
    )
    rolling = dg.define_asset_job(
        f"{name}_rolling_reconciliation_job", selection=steps, partitions_def=partitions,
        tags={**tags, "kind": "rolling_reconciliation"},
        description="The nightly job's steps over the last change_capture.rolling_days days "
        "before yesterday, a week per run: both sides read again, what the change feed "
        "missed synced, what still differs classified with its cause.",
    )
    nightly_schedule = dg.build_schedule_from_partitioned_job(
        nightly, name=f"{name}_job_schedule", hour_of_day=entry.schedule.hour,
        minute_of_hour=entry.schedule.minute, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Nightly: yesterday's partition, once the day is over.",
    )
    return PairJobs(nightly, repair, rolling, nightly_schedule, _rolling_schedule(spec, rolling))
