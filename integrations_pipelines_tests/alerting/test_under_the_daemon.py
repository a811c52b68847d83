"""The alert sensors are on by default and work under Dagster's own sensor daemon, configured
from the environment like production; without Slack configured, incidents are still recorded
and logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from dagster._core.test_utils import freeze_time
from dagster._daemon.sensor import execute_sensor_iteration

from integrations_pipelines.defs.alerting import AlertingResource
from integrations_pipelines.defs.alerting.incidents_view import INCIDENTS_KEY
from integrations_pipelines.defs.alerting.tokens import token_check_key
from integrations_pipelines.vendors.errors import CredentialsRevokedError
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines_tests.alerting.conftest import CHANNEL, Daemon, daemon_workspace

SENSORS = {"asset_check_alert_sensor", "freshness_alert_sensor", "missed_schedule_sensor",
           "open_incidents_sensor", "run_failure_alert_sensor", "run_recovery_sensor",
           "token_health_sensor", "change_capture_sensor", "webhook_inbox_sensor",
           "books_changed_sensor", "stripe_to_warehouse_changes_sensor",
           "shopify_to_xero_books_changed_sensor"}
ONCE = {"token_health_sensor", "change_capture_sensor",  # intervals longer than the test
        "stripe_to_warehouse_changes_sensor"}


def revoke_quickbooks_token(env) -> str:
    """A refresh, then the user disconnects the app and the next refresh is refused."""
    store, quickbooks = env.resources["store"], env.resources["quickbooks"]
    tokens = quickbooks.client(HttpMetrics(), store, None).tokens
    access = tokens.access_token()
    httpx.post(f"{env.qbo_url}/_sandbox/tokens/revoke", timeout=10).raise_for_status()
    with pytest.raises(CredentialsRevokedError):
        tokens.force_refresh(rejected_token=access)  # as after QuickBooks' 401
    return tokens.app.connection


def test_sensors_run_by_default_under_the_sensor_daemon(
        sandboxes, database_url, dagster_instance, slack, posted, monkeypatch):
    server, workspace_slack = slack
    env = sandboxes([])
    connection = revoke_quickbooks_token(env)
    for name, value in {
        "SLACK_BOT_TOKEN": workspace_slack.bot_token,
        "SLACK_API_BASE_URL": workspace_slack.api_url(server.url),
        "DAGSTER_UI_URL": "http://dagster.internal",
    }.items():
        monkeypatch.setenv(name, value)
    with daemon_workspace(dagster_instance, env.environment) as workspace:
        list(execute_sensor_iteration(workspace, logging.getLogger("sensors"), None, None))
        # A minute and a half later: the sensors with short intervals tick again.
        with freeze_time(datetime.now(UTC) + timedelta(seconds=90)):
            list(execute_sensor_iteration(workspace, logging.getLogger("sensors"), None, None))

    states = {s.instigator_name: s for s in dagster_instance.all_instigator_state()
              if s.instigator_type.value == "SENSOR"}
    assert set(states) == SENSORS
    assert {s.status.value for s in states.values()} == {"DECLARED_IN_CODE"}
    for state in states.values():
        ticks = dagster_instance.get_ticks(state.instigator_origin_id, state.selector_id)
        expected = 1 if state.instigator_name in ONCE else 2
        assert len(ticks) == expected, state.instigator_name
        assert {t.status.value for t in ticks} <= {"SKIPPED", "SUCCESS"}, \
            (state.instigator_name, [t.error for t in ticks])
    [message] = posted.all()
    assert message["channel_name"] == CHANNEL
    assert message["text"].startswith(
        f":rotating_light: CRITICAL shopify_to_quickbooks: Token revoked: the refresh token of "
        f"'{connection}' was rejected")
    assert "<http://dagster.internal/assets/quickbooks/token_health|" in \
        message["blocks"][-2]["text"]["text"]
    # The daemon recorded what the sensors reported on their assets.
    [check] = dagster_instance.event_log_storage.get_asset_check_execution_history(
        token_check_key("quickbooks"), limit=1)
    assert check.status.value == "FAILED"
    [view] = dagster_instance.fetch_observations(INCIDENTS_KEY, limit=1).records
    assert view.asset_observation.metadata["open_incidents"].value == 1


def test_without_slack_incidents_are_recorded_and_logged(
        sandboxes, engine, dagster_instance, monkeypatch, caplog):
    for name in ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "SLACK_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    env = sandboxes([], alerting=AlertingResource())
    connection = revoke_quickbooks_token(env)
    daemon = Daemon(env.defs, dagster_instance)
    with caplog.at_level(logging.WARNING, logger="integrations_pipelines.alerts"):
        daemon.tick("token_health_sensor")
        daemon.tick("token_health_sensor")
    alerts = [r.getMessage() for r in caplog.records if "Slack not configured" in r.getMessage()]
    assert len(alerts) == 1
    assert alerts[0].startswith(
        f"ALERT for {CHANNEL} (Slack not configured): :rotating_light: CRITICAL "
        f"shopify_to_quickbooks: Token revoked: the refresh token of '{connection}'")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT kind, status, notifications, subject FROM incidents")).all()
    assert [tuple(r) for r in rows] == [
        ("token_revoked", "open", 1, f"connection={connection}")]
