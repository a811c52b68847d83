"""The incidents, visible in the Dagster UI, and reminders for the ones nothing re-observes.

`alerts/incidents` is an asset the project does not materialize: the incident table in the
integration store is written by the alert sensors. `open_incidents_sensor` records an
observation on it whenever the set of open incidents changes: counts (open, critical,
warning, resolved in the last day, plotted over time) and the incidents themselves as a
table, so a person sees what is open without Slack or SQL.

Run failures and failed checks are events: nothing observes them again while they stay open.
The same sensor re-raises those incidents when a reminder is due (or a delivery to Slack
failed earlier); `IncidentManager` decides whether a message goes out. Freshness, token and
schedule incidents are re-observed by their own sensors on every tick.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.alerts.incidents import IncidentManager, open_and_recent
from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.catalog import owners
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.resources import IntegrationStore

__all__ = [
    "EVENT_KINDS", "INCIDENTS_KEY", "RECENT", "ROWS_SHOWN", "incidents_asset",
    "incidents_observation", "open_incidents_sensor", "remind_due",
]

INCIDENTS_KEY = dg.AssetKey(["alerts", "incidents"])
EVENT_KINDS = {AlertKind.RUN_FAILURE.value, AlertKind.CHECK_FAILURE.value,
               AlertKind.VOLUME.value}
RECENT = timedelta(days=1)
ROWS_SHOWN = 50

incidents_asset = dg.AssetSpec(
    INCIDENTS_KEY,
    group_name="alerts",
    kinds={"postgres", "slack"},
    owners=owners(),
    description="Every alert of the project is an incident in the `incidents` table: one per "
    "integration, alert kind and subject, announced once in Slack, reminded while open, "
    "resolved when green. Observed by `open_incidents_sensor` (counts and the open ones).",
)


def remind_due(manager: IncidentManager, now: datetime, remind_after: timedelta) -> int:
    """Re-raise the open event incidents due a reminder (or a retried delivery)."""
    sent = 0
    for row in manager.open_incidents():
        if row.kind not in EVENT_KINDS:
            continue
        if row.last_notified_at is not None and now - row.last_notified_at < remind_after:
            continue
        outcome = manager.raise_or_update(Alert(
            integration=row.integration, kind=row.kind, subject=row.subject,
            summary=row.summary, details=row.details, severity=row.severity))
        sent += outcome.notified
    return sent


def _table(rows: list[Any], resolved: bool = False) -> str:
    when = "resolved (UTC)" if resolved else "opened (UTC)"
    lines = [f"| # | integration | kind | severity | subject | summary | {when} | messages |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows[:ROWS_SHOWN]:
        moment = row.resolved_at if resolved else row.opened_at
        summary = row.summary.replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(f"| {row.id} | {row.integration} | {row.kind} | {row.severity} | "
                     f"`{row.subject}` | {summary} | {moment:%Y-%m-%d %H:%M} | "
                     f"{row.notifications} |")
    return "\n".join(lines)


def incidents_observation(conn: sa.Connection, now: datetime,
                          ) -> tuple[dg.AssetObservation, str]:
    """The observation of the incident table, and its fingerprint (what changed)."""
    open_rows, resolved_rows = open_and_recent(conn, now - RECENT)
    critical = sum(1 for r in open_rows if r.severity == "critical")
    metadata: dict[str, Any] = {
        "open_incidents": len(open_rows),
        "critical": critical,
        "warning": len(open_rows) - critical,
        "resolved_last_24h": len(resolved_rows),
        "open": dg.MetadataValue.md(_table(open_rows) if open_rows else "No open incident."),
        "recently_resolved": dg.MetadataValue.md(
            _table(resolved_rows, resolved=True) if resolved_rows else "None."),
    }
    fingerprint = hashlib.sha256(json.dumps({
        "open": [[r.id, r.severity, r.notifications, r.summary] for r in open_rows],
        "resolved": [r.id for r in resolved_rows],
    }).encode()).hexdigest()
    description = (f"{len(open_rows)} open incident(s), {critical} critical" if open_rows
                   else "no open incident")
    return dg.AssetObservation(asset_key=INCIDENTS_KEY, description=description,
                               metadata=metadata), fingerprint


@dg.sensor(
    name="open_incidents_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps alerts/incidents current (an observation whenever the open incidents "
    "change) and sends the reminders of open run-failure and check incidents.",
)
def open_incidents_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                          alerting: AlertingResource) -> dg.SensorResult:
    engine = store.engine()
    now = datetime.now(UTC)
    reminded = remind_due(alerting.manager(engine), now, alerting.remind_after)
    with engine.connect() as conn:
        observation, fingerprint = incidents_observation(conn, now)
    if fingerprint == context.cursor:
        return dg.SensorResult(skip_reason=f"incidents unchanged ({reminded} reminders)",
                               cursor=fingerprint)
    return dg.SensorResult(asset_events=[observation], cursor=fingerprint)
