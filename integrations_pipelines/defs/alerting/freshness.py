"""Freshness: every extracted asset must be updated on time, or someone hears about it.

Dagster's own `FreshnessPolicy` (the current API; the freshness-check factories and their
sensor are superseded by it) is attached by the kit's factory to each pair's assets that
hold a system's records (`shopify/orders`, `quickbooks/invoices`), from its catalog entry.
For a daily integration whose SLA is a day plus a grace (`freshness_sla_hours: 26`, nightly
tick at 02:15), the policy is a cron deadline aligned with the daily partitions: every day
the asset must have been materialized between the nightly tick and the tick plus the grace
(02:15-04:15), i.e. the night's partition arrived; other SLAs become a plain time window.
Dagster's freshness daemon (part of `dagster-daemon run`, on by default) evaluates the
policies and records each state change; `freshness_alert_sensor` turns FAIL and WARN states
into incidents and PASS into the all-clear. (The policy classes and Dagster's clock are read
from `dagster` internals: the classes are not exported, and the clock is the one the
freshness daemon uses.)
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import dagster as dg
from dagster._time import get_current_datetime

from integrations_pipelines.alerts.incidents import incident_subject
from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.alerting.routing import asset_tags, integration_for_asset
from integrations_pipelines.defs.resources import IntegrationStore

if TYPE_CHECKING:
    from dagster._core.definitions.freshness import CronFreshnessPolicy

__all__ = [
    "DAILY_CRON", "DAY", "FEED_CAUSE", "STALE_CAUSE", "describe_policy",
    "freshness_alert", "freshness_alert_sensor", "freshness_policy",
]

DAY = timedelta(days=1)
DAILY_CRON = re.compile(r"^(\d+) (\d+) \* \* \*$")
STALE_CAUSE = ("the nightly run did not start or did not succeed: the schedule or the daemon "
               "stopped, the run is queued behind another one, or it failed")
FEED_CAUSE = ("the runs that keep it current stopped or keep failing: its sensor is off, the "
              "daemon is down, or the vendor's feed errors (see the asset's latest runs)")


def freshness_policy(integration: Integration) -> dg.FreshnessPolicy:
    """The integration's freshness rule: a daily deadline `grace` after the nightly tick
    (grace = SLA - 1 day) when that grace is between a minute and a day, else a time window
    of the SLA."""
    sla = timedelta(hours=integration.freshness_sla_hours)
    grace = sla - DAY
    if not timedelta(minutes=1) <= grace <= DAY:
        return dg.FreshnessPolicy.time_window(fail_window=sla)
    tick = timedelta(hours=integration.schedule.hour, minutes=integration.schedule.minute)
    deadline = (tick + grace) % DAY
    hours, minutes = divmod(int(deadline.total_seconds()) // 60, 60)
    return dg.FreshnessPolicy.cron(deadline_cron=f"{minutes} {hours} * * *",
                                   lower_bound_delta=grace, timezone=integration.timezone)


def describe_policy(policy: dg.FreshnessPolicy) -> str:
    """The rule in words, for the alert: "due every day between 02:15 and 04:15 UTC".
    (The policy classes are not exported by `dagster`: read by their attributes.)"""
    cron = getattr(policy, "deadline_cron", None)
    if cron is not None:
        timezone = getattr(policy, "timezone", "UTC")
        daily = DAILY_CRON.match(cron)
        if daily:
            deadline = timedelta(hours=int(daily[2]), minutes=int(daily[1]))
            lower_bound = cast("CronFreshnessPolicy", policy).lower_bound_delta  # has a cron
            start = (deadline - lower_bound) % DAY
            return f"due every day between {_clock(start)} and {_clock(deadline)} {timezone}"
        return f"due by each `{cron}` deadline ({timezone})"
    window = getattr(policy, "fail_window", None)
    if window is not None:
        return f"due at least every {window.to_timedelta()}"
    return type(policy).__name__


def _clock(offset: timedelta) -> str:
    hours, minutes = divmod(int(offset.total_seconds()) // 60, 60)
    return f"{hours:02d}:{minutes:02d}"


def freshness_alert(key: dg.AssetKey, state: str, policy: dg.FreshnessPolicy,
                    last: dg.EventLogEntry | None, now: datetime,
                    tags: Mapping[str, str] | None = None) -> Alert:
    """The alert for an asset whose freshness state is FAIL or WARN (`tags`: the asset's,
    which name its integration)."""
    details: dict[str, object] = {"state": state, "rule": describe_policy(policy)}
    summary = f"{key.to_user_string()} is stale ({describe_policy(policy)})"
    run_id = None
    if last is not None:
        updated = datetime.fromtimestamp(last.timestamp, UTC)
        hours = (now - updated).total_seconds() / 3600
        summary = (f"{key.to_user_string()} was last updated {hours:.1f} hours ago, "
                   f"{updated:%Y-%m-%d %H:%M} UTC ({describe_policy(policy)})")
        materialization = last.asset_materialization
        details.update(last_updated=f"{updated:%Y-%m-%d %H:%M} UTC",
                       hours_since_update=round(hours, 1),
                       last_partition=materialization.partition if materialization else None)
        run_id = last.run_id or None
    return Alert(
        integration=integration_for_asset(key.path, tags), kind=AlertKind.FRESHNESS,
        subject=incident_subject(asset=key.to_user_string()), summary=summary, details=details,
        cause=FEED_CAUSE if getattr(policy, "fail_window", None) is not None else STALE_CAUSE,
        run_id=run_id, asset_key=key.path,
        severity=Severity.CRITICAL if state == "FAIL" else Severity.WARNING,
    )


@dg.sensor(
    name="freshness_alert_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns the freshness states Dagster's freshness daemon records for assets "
    "with a FreshnessPolicy into incidents: FAIL (critical) and WARN (warning) open or "
    "repeat one, PASS resolves it.",
)
def freshness_alert_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                           alerting: AlertingResource) -> dg.SkipReason:
    assert context.repository_def is not None  # set whenever Dagster evaluates a sensor
    policies = {node.key: node.freshness_policy_or_from_metadata
                for node in context.repository_def.asset_graph.asset_nodes
                if node.freshness_policy_or_from_metadata is not None}
    if not policies:
        return dg.SkipReason("no asset has a freshness policy")
    states = context.instance.get_freshness_state_records(list(policies))
    manager = alerting.manager(store.engine())
    now = get_current_datetime()  # the clock Dagster's freshness daemon evaluates with
    stale = []
    for key, record in states.items():
        state = record.freshness_state.value
        subject = incident_subject(asset=key.to_user_string())
        if state in ("FAIL", "WARN"):
            last = context.instance.get_latest_materialization_event(key)
            manager.raise_or_update(freshness_alert(
                key, state, policies[key], last, now, asset_tags(context.repository_def, key)))
            stale.append(key.to_user_string())
        elif state == "PASS":
            manager.resolve(integration_for_asset(key.path,
                                                  asset_tags(context.repository_def, key)),
                            AlertKind.FRESHNESS, subject,
                            summary=f"{key.to_user_string()} is fresh again",
                            asset_key=key.path)
    return dg.SkipReason(f"stale: {', '.join(stale)}" if stale else
                         f"{len(states)} of {len(policies)} assets evaluated; none stale")
