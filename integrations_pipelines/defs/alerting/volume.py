"""Expected-volume checks for any pair: dead-man's switches for "the sync ran, but far too
little arrived". A pair's `VolumeSpec` gives its two checks; the kit's factory evaluates each
in the step of the asset it checks (`defs/kit/in_step.py`), so they always run with it.

The baseline check (on the source asset, per daily partition) compares the day's extracted
records with the median of the same weekday over the last weeks; a quiet day (the catalog's
`quiet_weekdays` and `holidays`, or a weekday whose history is about zero) stays green. Days
the asset was materialized with no records count as zero; days never extracted are unknown,
not zero. The keep-up check (on the destination asset) fails when the window has fewer
destination records than source records that should have one (those with an open dead
letter, and those the catalog skips, are accounted for). Both are non-blocking: the run goes
on, and the failed evaluation becomes a `volume` incident through `asset_check_alert_sensor`
(their results say `alert_kind: volume`). No vendor import: the pair names its record kinds.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.volume import (
    VolumePolicy,
    VolumeVerdict,
    check_volume,
    destination_behind_source,
)
from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.state import accounted, raw

__all__ = ["ALERT_KIND", "VolumeSpec", "baseline_result", "baseline_spec",
           "destination_behind_result", "keep_up_result", "keep_up_spec", "record_history",
           "volume_result", "volume_verdicts"]

ALERT_KIND = "alert_kind"  # the metadata key that makes a failed check a `volume` incident
POLICY = VolumePolicy()


@dataclass(frozen=True)
class VolumeSpec:
    """One pair's volume checks: its assets and record kinds, the checks' names, the likely
    causes an operator reads, and how to find the destination account of a run."""

    integration: Integration
    partitions: dg.PartitionsDefinition
    source_key: dg.AssetKey
    source_kind: raw.RecordKind
    destination_key: dg.AssetKey
    destination_kind: Callable[[str], raw.RecordKind]  # of the destination account
    account_resource: str  # the destination's resource key
    destination_account: Callable[[Any], str]  # that resource -> the account id
    volume_check: str
    behind_check: str
    zero_cause: str
    low_cause: str
    behind_cause: str
    skipped_status: str
    words: tuple[str, str] = ("records", "destination records")  # source's, destination's


def _days(window: Window) -> list[date]:
    return [window.first_day + timedelta(days=n)
            for n in range((window.end_day - window.first_day).days)]


def record_history(conn: sa.Connection, instance: dg.DagsterInstance, kind: raw.RecordKind,
                   key: dg.AssetKey, start: date, end: date) -> dict[date, int]:
    """Records per business day in [start, end): the raw store's counts, with 0 for a day
    that was extracted (its partition of `key` materialized) and had no records."""
    counts = raw.counts_by_day(conn, kind, start, end)
    extracted = {date.fromisoformat(partition)
                 for partition in instance.get_materialized_partitions(key)}
    return {d: counts.get(d, 0) for d in extracted | set(counts) if start <= d < end}


def quiet_verdict(integration: Integration, day: date, count: int) -> VolumeVerdict:
    """Green by configuration: a holiday or a weekday the business never trades on."""
    why = "a configured holiday" if day in integration.holidays else \
        f"a configured quiet weekday ({day:%A})"
    return VolumeVerdict(day, True, count, None, None, f"{day} is {why}", True, ())


def volume_verdicts(history: Mapping[date, int], days: list[date],
                    integration: Integration) -> list[VolumeVerdict]:
    """The verdict of each day, from its history and the catalog's quiet days."""
    return [
        quiet_verdict(integration, day, history.get(day, 0)) if integration.is_quiet_day(day)
        else check_volume(history, day, history.get(day, 0), policy=POLICY,
                          holidays=integration.holidays,
                          fallback_expected=integration.expected_daily_volume)
        for day in days
    ]


def volume_result(verdicts: list[VolumeVerdict], spec: VolumeSpec) -> dg.AssetCheckResult:
    """One check result for the window: the first failing day decides (else the last day)."""
    failing = [v for v in verdicts if not v.ok]
    shown = failing[0] if failing else verdicts[-1]
    metadata: dict[str, Any] = {
        ALERT_KIND: str(AlertKind.VOLUME),
        **shown.metadata(),
        "day": shown.day.isoformat(),
        "weekday": f"{shown.day:%A}",
        "samples": dg.MetadataValue.json(list(shown.samples)),
        "days_failing": len(failing),
    }
    if len(verdicts) > 1:
        metadata["per_day"] = dg.MetadataValue.json(
            {v.day.isoformat(): v.metadata() for v in verdicts})
    severity = dg.AssetCheckSeverity.WARN
    if failing:
        metadata["likely_cause"] = spec.zero_cause if shown.actual == 0 else spec.low_cause
        if shown.actual == 0:
            severity = dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(check_name=spec.volume_check, asset_key=spec.source_key,
                               passed=not failing, severity=severity, description=shown.reason,
                               metadata=metadata)


def destination_behind_result(conn: sa.Connection, spec: VolumeSpec, account: str,
                              window: Window) -> dg.AssetCheckResult:
    """Counts both sides of the window: source records that should have a destination record
    (not dead-lettered, not settled by policy without one), and destination records."""
    source = accounted.expected_in_window(conn, spec.source_kind, spec.integration.name,
                                          window.first_day, window.end_day,
                                          skipped_status=spec.skipped_status)
    held = raw.count_window(conn, spec.destination_kind(account), window.first_day,
                            window.end_day)
    verdict = destination_behind_source(source.expected, held)
    theirs, ours = spec.words
    metadata: dict[str, Any] = {
        ALERT_KIND: str(AlertKind.VOLUME),
        theirs: source.records, "dead_lettered": source.dead_lettered,
        "skipped": source.skipped, f"expected_{ours}": source.expected,
        ours: held, "missing": verdict.missing, "window": window.label,
    }
    if not verdict.ok:
        metadata["likely_cause"] = spec.behind_cause
    return dg.AssetCheckResult(check_name=spec.behind_check, asset_key=spec.destination_key,
                               passed=verdict.ok, severity=dg.AssetCheckSeverity.ERROR,
                               description=verdict.reason, metadata=metadata)


def baseline_spec(spec: VolumeSpec) -> dg.AssetCheckSpec:
    """The baseline check on the pair's source asset (evaluated in that asset's step)."""
    return dg.AssetCheckSpec(
        spec.volume_check, asset=spec.source_key,
        description=f"The day's {spec.words[0]} are not far below the usual: at least half "
        "the median of the same weekday over the last six weeks (the catalog's "
        "expected_daily_volume while the history is short). Quiet days (configured holidays "
        "and weekdays, or weekdays whose history is about zero) always pass. Zero on a normal "
        "day fails at ERROR.",
    )


def keep_up_spec(spec: VolumeSpec) -> dg.AssetCheckSpec:
    """The keep-up check on the pair's destination asset (evaluated in that asset's step)."""
    return dg.AssetCheckSpec(
        spec.behind_check, asset=spec.destination_key,
        description=f"The destination holds at least one record (live or voided) for every "
        f"one of the window's {spec.words[0]} that is not dead-lettered or skipped by policy: "
        "its count is not behind the source's.",
    )


def baseline_result(instance: dg.DagsterInstance, engine: sa.Engine, window: Window,
                    spec: VolumeSpec) -> dg.AssetCheckResult:
    """The baseline verdict of the window's days, from the store's history of the source."""
    lookback = window.first_day - timedelta(weeks=POLICY.weeks)
    with engine.connect() as conn:
        history = record_history(conn, instance, spec.source_kind, spec.source_key,
                                 lookback, window.end_day)
    return volume_result(volume_verdicts(history, _days(window), spec.integration), spec)


def keep_up_result(engine: sa.Engine, destination: Any, window: Window,
                   spec: VolumeSpec) -> dg.AssetCheckResult:
    """The keep-up verdict of the window, given the destination's resource."""
    account = spec.destination_account(destination)
    with engine.connect() as conn:
        return destination_behind_result(conn, spec, account, window)
