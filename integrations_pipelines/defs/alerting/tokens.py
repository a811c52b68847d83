"""Credentials as a first-class health signal: the token health of each OAuth connection.

`<system>/token_health` (an asset the project does not materialize: the token manager
keeps `oauth_tokens` current), one per system whose connections use OAuth (the pairs
declare them: `quickbooks` today), carries the check `refresh_token_is_healthy`. The
`token_health_sensor` evaluates every stored connection each tick: a refresh token that
expires within `token_warn_days` opens a warning, one that was rejected (revoked), has
expired or keeps failing to refresh opens a critical incident, and a healthy one resolves
both. When the health changes (or every few hours) the sensor records the check's
evaluation and an observation with the figures (days left, failures, last refresh) on the
asset, so the UI shows the token's health without a run; the check can also be executed
from the UI.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.alerts.incidents import incident_subject
from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.alerts.tokens import TokenAlert, token_alert
from integrations_pipelines.catalog import owners
from integrations_pipelines.defs.alerting.resource import AlertingResource
from integrations_pipelines.defs.alerting.routing import integrations_for_connection
from integrations_pipelines.defs.resources import IntegrationStore
from integrations_pipelines.vendors.oauth import TokenHealth, stored_healths

__all__ = [
    "CAUSES", "REPORT_EVERY", "TOKEN_CHECK", "check_evaluation", "connection_alert",
    "health_figures", "system_of", "token_check_key", "token_health_check", "token_health_key",
    "token_health_sensor", "token_health_spec",
]

TOKEN_CHECK = "refresh_token_is_healthy"
REPORT_EVERY = timedelta(hours=6)
CAUSES = {
    AlertKind.TOKEN_REVOKED: "a person revoked the app's access in the vendor's admin, the "
    "token expired after inactivity, or a rotated refresh token was lost",
    AlertKind.TOKEN_EXPIRING: "the connection has not been refreshed for a long time, or the "
    "vendor set a hard end to the authorization",
}

def token_health_key(system: str) -> dg.AssetKey:
    """The asset that shows the OAuth connections of `system`."""
    return dg.AssetKey([system, "token_health"])


def token_check_key(system: str) -> dg.AssetCheckKey:
    """The check on `system`'s token health (its evaluations come from the sensor)."""
    return dg.AssetCheckKey(token_health_key(system), TOKEN_CHECK)


def token_health_spec(system: str) -> dg.AssetSpec:
    """The token-health asset of one OAuth system."""
    return dg.AssetSpec(
        token_health_key(system),
        group_name=system,
        kinds={system, "postgres"},
        owners=owners(system),
        description=f"The OAuth credentials of each {system} connection (`oauth_tokens`): "
        "when the access and refresh tokens expire, the last refresh, failures in a row and "
        "whether the refresh token was revoked. Observed by `token_health_sensor`.",
    )


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "unknown"


def health_figures(health: TokenHealth, now: datetime) -> dict[str, Any]:
    """One connection's numbers for the UI and the alert."""
    expires = health.refresh_expires_at
    return {
        "connection": health.connection,
        "refresh_token_expires": _when(expires),
        "days_left": None if expires is None else round((expires - now).total_seconds()
                                                        / 86400, 1),
        "consecutive_failures": health.consecutive_failures,
        "last_refreshed": _when(health.last_refreshed_at),
        "revoked": health.revoked,
    }


def system_of(connection: str) -> str:
    """The system of a connection named `<system>:<account>`."""
    return connection.split(":", 1)[0]


def connection_alert(found: TokenAlert, health: TokenHealth, integration: str,
                     now: datetime) -> Alert:
    """The incident observation for one connection of one integration."""
    details = health_figures(health, now)
    details.pop("revoked")
    return Alert(
        integration=integration, kind=found.kind, severity=found.severity,
        subject=incident_subject(connection=found.connection), summary=found.reason,
        details=details, cause=CAUSES.get(found.kind),
        asset_key=token_health_key(system_of(found.connection)).path,
    )


def check_evaluation(healths: Sequence[TokenHealth], now: datetime, rules: AlertingResource,
                     ) -> tuple[bool, dg.AssetCheckSeverity, str, dict[str, Any]]:
    """The check's verdict over the connections: passed, severity, description, metadata."""
    found = [(h, token_alert(h, now, warn_before=timedelta(days=rules.token_warn_days),
                             max_failures=rules.token_max_failures)) for h in healths]
    # The connection shown: the first critical one, else the first failing, else the first.
    ranked = sorted(found, key=lambda pair: (pair[1] is None,
                                             pair[1] is not None
                                             and pair[1].severity is not Severity.CRITICAL))
    worst_health, worst_alert = ranked[0] if ranked else (None, None)
    metadata: dict[str, Any] = {"connections": len(healths)}
    if worst_health is not None:
        metadata.update(health_figures(worst_health, now))
    metadata["all_connections"] = dg.MetadataValue.json(
        [health_figures(h, now) for h in healths])
    if worst_alert is None:
        description = (f"{len(healths)} connection(s) healthy" if healths
                       else "no OAuth connection stored yet")
        return True, dg.AssetCheckSeverity.WARN, description, metadata
    severity = (dg.AssetCheckSeverity.ERROR if worst_alert.severity is Severity.CRITICAL
                else dg.AssetCheckSeverity.WARN)
    return False, severity, worst_alert.reason, metadata


def token_health_check(system: str) -> dg.AssetChecksDefinition:
    """The check `refresh_token_is_healthy` on one OAuth system's token-health asset."""

    @dg.asset_check(
        asset=token_health_key(system),
        name=TOKEN_CHECK,
        description=f"Every {system} connection's refresh token works and is more than "
        "`token_warn_days` (14) days from expiry: WARN when it expires soon, ERROR when it "
        "was revoked, has expired or keeps failing to refresh.",
    )
    def refresh_token_is_healthy(store: IntegrationStore,
                                 alerting: AlertingResource) -> dg.AssetCheckResult:
        with store.engine().connect() as conn:
            healths = stored_healths(conn, system)
        passed, severity, description, metadata = check_evaluation(
            healths, datetime.now(UTC), alerting)
        return dg.AssetCheckResult(passed=passed, severity=severity, description=description,
                                   metadata=metadata)

    return refresh_token_is_healthy


def _report(system: str, healths: list[TokenHealth], now: datetime, rules: AlertingResource,
            cursor: str | None) -> tuple[list[Any], dict[str, Any]]:
    """One system's asset events to record when its health changed or is due again, and
    that system's part of the cursor."""
    key = token_health_key(system)
    passed, severity, description, metadata = check_evaluation(healths, now, rules)
    fingerprint = json.dumps([passed, severity.value, description,
                              [(h.connection, h.revoked, h.consecutive_failures,
                                _when(h.refresh_expires_at)) for h in healths]])
    last = json.loads(cursor) if cursor else {}
    due = now.timestamp() - last.get("reported_at", 0) >= REPORT_EVERY.total_seconds()
    if last.get("fingerprint") == fingerprint and not due:
        return [], last
    events = [
        dg.AssetCheckEvaluation(asset_key=key, check_name=TOKEN_CHECK,
                                passed=passed, severity=severity, description=description,
                                metadata=metadata),
        dg.AssetObservation(asset_key=key, description=description,
                            metadata=metadata),
    ]
    return events, {"fingerprint": fingerprint, "reported_at": now.timestamp()}


def token_health_sensor(systems: Sequence[str]) -> dg.SensorDefinition:
    """The sensor over every stored OAuth connection, reporting on the token-health assets
    of `systems` (its cursor keeps each system's last report)."""
    watched = tuple(systems)

    @dg.sensor(
        name="token_health_sensor",
        minimum_interval_seconds=600,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Raises an incident days before an OAuth refresh token expires "
        "(warning) or when it was revoked, expired or keeps failing (critical), resolves it "
        "when the connection is healthy again, and records the check and figures of "
        + ", ".join(f"{system}/token_health" for system in watched) + ".",
    )
    def token_health_sensor(context: dg.SensorEvaluationContext, store: IntegrationStore,
                            alerting: AlertingResource) -> dg.SensorResult:
        engine = store.engine()
        with engine.connect() as conn:
            healths = stored_healths(conn)
        now = datetime.now(UTC)
        unhealthy = _raise_and_resolve(alerting, engine, healths, now)
        previous = json.loads(context.cursor) if context.cursor else {}
        events: list[Any] = []
        cursor: dict[str, Any] = {}
        for system in watched:
            mine = [h for h in healths if system_of(h.connection) == system]
            found, cursor[system] = _report(system, mine, now, alerting,
                                            _system_cursor(previous, system))
            events.extend(found)
        return dg.SensorResult(
            asset_events=events, cursor=json.dumps(cursor),
            skip_reason=None if events else (
                "; ".join(unhealthy) or f"{len(healths)} connection(s) healthy"),
        )

    return token_health_sensor


def _system_cursor(previous: dict[str, Any], system: str) -> str | None:
    """One system's part of the sensor's cursor (None: report now)."""
    part = previous.get(system)
    return json.dumps(part) if isinstance(part, dict) else None


def _raise_and_resolve(alerting: AlertingResource, engine: sa.Engine,
                       healths: Sequence[TokenHealth], now: datetime) -> list[str]:
    """Open, update or resolve each connection's incidents; the unhealthy ones, in words."""
    manager = alerting.manager(engine)
    unhealthy = []
    for health in healths:
        found = token_alert(health, now, warn_before=timedelta(days=alerting.token_warn_days),
                            max_failures=alerting.token_max_failures)
        subject = incident_subject(connection=health.connection)
        for integration in integrations_for_connection(health.connection):
            if found is not None:
                manager.raise_or_update(connection_alert(found, health, integration, now))
            if found is None or found.kind is AlertKind.TOKEN_EXPIRING:
                manager.resolve(integration, AlertKind.TOKEN_REVOKED, subject,
                                summary=f"'{health.connection}' refreshes again")
            if found is None:
                manager.resolve(integration, AlertKind.TOKEN_EXPIRING, subject,
                                summary=f"'{health.connection}' has a refresh token that "
                                "is not near expiry")
        if found is not None:
            unhealthy.append(f"{health.connection}: {found.kind.value}")
    return unhealthy
