"""Dagster wiring of the dead-man's switches and alerts: silence itself raises an alarm.

- `freshness`: Dagster FreshnessPolicies from the catalog on every extracted asset (evaluated
  by Dagster's freshness daemon) and `freshness_alert_sensor`;
- `volume`: the expected-volume checks (a baseline on a pair's source asset, keep-up on its
  destination), which the kit evaluates in those assets' steps;
- `tokens`: `<system>/token_health` per OAuth system, its check `refresh_token_is_healthy`
  and `token_health_sensor`;
- `runs`: `run_failure_alert_sensor` and `run_recovery_sensor`;
- `check_alerts`: `asset_check_alert_sensor` (Dagster OSS does not alert on failed checks);
- `schedules`: `missed_schedule_sensor`;
- `incidents_view`: `alerts/incidents` and `open_incidents_sensor` (view and reminders).

Every sensor runs by default under the daemon and reports through `alerts.IncidentManager`:
one Slack message per incident, reminders while it stays open, one "resolved" message.
"""

from collections.abc import Sequence

import dagster as dg

from integrations_pipelines.defs.alerting.check_alerts import asset_check_alert_sensor
from integrations_pipelines.defs.alerting.freshness import (
    freshness_alert_sensor,
)
from integrations_pipelines.defs.alerting.incidents_view import (
    incidents_asset,
    open_incidents_sensor,
)
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.alerting.runs import run_failure_alert_sensor, run_recovery_sensor
from integrations_pipelines.defs.alerting.schedules import missed_schedule_sensor
from integrations_pipelines.defs.alerting.tokens import (
    token_health_check,
    token_health_sensor,
    token_health_spec,
)

ALERTING_ASSETS = [incidents_asset]
ALERTING_SENSORS = [run_failure_alert_sensor, run_recovery_sensor, asset_check_alert_sensor,
                    freshness_alert_sensor, missed_schedule_sensor, open_incidents_sensor]


def alerting_definitions(oauth_systems: Sequence[str]) -> dg.Definitions:
    """The project-wide alerting: the sensors above, and token health (asset, check) for
    each system whose connections use OAuth."""
    return dg.Definitions(
        assets=[*ALERTING_ASSETS, *(token_health_spec(s) for s in oauth_systems)],
        asset_checks=[token_health_check(s) for s in oauth_systems],
        sensors=[*ALERTING_SENSORS, token_health_sensor(oauth_systems)],
    )

__all__ = [
    "ALERTING_ASSETS",
    "ALERTING_SENSORS",
    "AlertingResource",
    "alerting_definitions",
]
