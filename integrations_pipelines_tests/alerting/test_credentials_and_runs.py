"""A revoked QuickBooks token: one alert for the dead credentials and one for the run they
broke, both resolved after the connection is re-authorized (`tokens set`) and the partition
re-run; a refresh token near expiry warns; no secret ever reaches Slack."""

from __future__ import annotations

import io
import json
from datetime import date

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines import cli
from integrations_pipelines.catalog import integration
from integrations_pipelines.defs.alerting import AlertingResource
from integrations_pipelines.defs.alerting.tokens import token_check_key, token_health_key
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines_tests.alerting.conftest import CHANNEL, UI, Daemon
from integrations_pipelines_tests.support import run_partition

NAME = "shopify_to_quickbooks"
DAY = date(2026, 11, 9)
SENSORS = ("token_health_sensor", "run_failure_alert_sensor", "run_recovery_sensor",
           "open_incidents_sensor")


@pytest.fixture
def small_volume(monkeypatch):
    monkeypatch.setattr(integration(NAME), "expected_daily_volume", 6)


def texts(messages: list[dict]) -> list[str]:
    return [m["text"].split(" (open for")[0] for m in messages]


def test_revoked_token_alerts_once_for_the_token_and_the_run_then_resolves(
        sandboxes, database_url, dagster_instance, posted, small_volume, monkeypatch):
    env = sandboxes(generate_shop(seed=4, start=DAY, days=1, orders_per_day=6))
    connection = f"quickbooks:{env.books.realm_id}"
    daemon = Daemon(env.defs, dagster_instance)
    daemon.arm(*SENSORS)
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    daemon.tick("token_health_sensor")
    assert posted.all() == []

    # The user disconnects the app in QuickBooks: every token dies; the next run fails.
    httpx.post(f"{env.qbo_url}/_sandbox/tokens/revoke", timeout=10).raise_for_status()
    failed = run_partition(env.defs, dagster_instance, DAY.isoformat(), raise_on_error=False)
    assert not failed.success
    for _ in range(2):
        for name in SENSORS:
            daemon.tick(name)
    revoked, run_failure = posted.all()
    assert revoked["channel_name"] == run_failure["channel_name"] == CHANNEL
    assert revoked["text"] == (
        ":rotating_light: CRITICAL shopify_to_quickbooks: Token revoked: the refresh token of "
        f"'{connection}' was rejected (last error: HTTP 400: "
        '{"error":"invalid_grant"})')
    assert f"<{UI}/assets/quickbooks/token_health|Open asset quickbooks/token_health>" in \
        revoked["blocks"][-2]["text"]["text"]
    assert run_failure["text"] == (
        ":rotating_light: CRITICAL shopify_to_quickbooks: Run failure: shopify_to_quickbooks_job "
        "for 2026-11-09 failed in step quickbooks__invoices: reading back invoices "
        f"2026-11-09..2026-11-10: credentials dead. {connection} oauth.refresh HTTP 400: the "
        f"refresh token of '{connection}' was rejected (invalid_grant): revoked, expired after "
        "inactivity, or already rotated. Re-authorize the app for connection "
        f"'{connection}' (the vendor's OAuth consent flow) and store the new refresh token "
        f"with `integrations-pipelines tokens set {connection}`; then replay the failed "
        "partitions.")
    cause = [b["text"]["text"] for b in run_failure["blocks"]
             if b["type"] == "section" and "text" in b and "Likely cause" in b["text"]["text"]]
    assert cause == ["*Likely cause:* the vendor rejected the connection's credentials: its "
                     "refresh token was revoked or has expired"]
    # Token health is visible on its asset in the UI without a run.
    [record] = dagster_instance.event_log_storage.get_asset_check_execution_history(
        token_check_key("quickbooks"), limit=1)
    assert record.status.value == "FAILED"
    [observed] = dagster_instance.fetch_observations(token_health_key("quickbooks"),
                                                     limit=1).records
    assert observed.asset_observation.metadata["revoked"].value is True

    # Re-authorized (the vendor's consent flow), stored with the CLI, partition re-run.
    fresh = httpx.post(f"{env.qbo_url}/_sandbox/tokens/issue", timeout=10).json()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(fresh["refresh_token"] + "\n"))
    assert cli.main(["tokens", "set", connection]) == 0
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    for name in SENSORS:
        daemon.tick(name)
    assert sorted(texts(posted.all()[2:])) == [
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Run failure: "
        "shopify_to_quickbooks_job for 2026-11-09 succeeded",
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Token revoked: "
        f"'{connection}' refreshes again",
    ]


def test_refresh_token_near_expiry_warns(sandboxes, engine, dagster_instance, posted):
    env = sandboxes([])
    env.books.tokens.refresh_lifetime = 5 * 86400 + 3600  # the vendor ends it in 5 days
    store, quickbooks = env.resources["store"], env.resources["quickbooks"]
    quickbooks.client(HttpMetrics(), store, None).tokens.access_token()  # a refresh
    with engine.connect() as conn:
        expires = conn.execute(sa.text("SELECT refresh_expires_at FROM oauth_tokens")).scalar_one()
    daemon = Daemon(env.defs, dagster_instance)
    daemon.tick("token_health_sensor")
    daemon.tick("token_health_sensor")
    [warning] = posted.all()
    assert warning["text"] == (
        ":warning: WARNING shopify_to_quickbooks: Token expiring: the refresh token of "
        f"'quickbooks:{env.books.realm_id}' expires in 5 days ({expires:%Y-%m-%d} UTC)")
    [record] = dagster_instance.event_log_storage.get_asset_check_execution_history(
        token_check_key("quickbooks"), limit=1)
    evaluation = record.event.dagster_event.event_specific_data
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.WARN)


DSN_PASSWORD = "Pg-s3cret-Passw0rd"
SHOP_TOKEN = "shpat_0123456789abcdef0123456789abcdef"
ENV_SECRET = "quiet-env-secret-4711"


@dg.op
def leaky_step() -> None:
    raise RuntimeError(
        f"could not connect to postgresql://etl:{DSN_PASSWORD}@db.internal:5432/store; "
        f"request headers {{'X-Shopify-Access-Token': '{SHOP_TOKEN}', "
        f"'Authorization': 'Bearer {ENV_SECRET}'}}; the vault answered {ENV_SECRET}")


@dg.job(tags={"integration": NAME})
def leaky_job() -> None:
    leaky_step()


def test_secrets_never_reach_slack(sandboxes, dagster_instance, posted, monkeypatch):
    monkeypatch.setenv("QBO_CLIENT_SECRET", ENV_SECRET)  # a secret by its variable's name
    env = sandboxes([])
    defs = dg.Definitions.merge(env.defs, dg.Definitions(jobs=[leaky_job]))
    daemon = Daemon(defs, dagster_instance)
    daemon.arm("run_failure_alert_sensor")
    result = defs.resolve_job_def("leaky_job").execute_in_process(
        instance=dagster_instance, raise_on_error=False)
    assert not result.success
    daemon.tick("run_failure_alert_sensor")
    [message] = posted.all()
    everything = json.dumps(message)
    for secret in (DSN_PASSWORD, SHOP_TOKEN, ENV_SECRET):
        assert secret not in everything
    assert message["text"] == (
        ":rotating_light: CRITICAL shopify_to_quickbooks: Run failure: leaky_job failed in "
        "step leaky_step: RuntimeError: could not connect to "
        "postgresql://etl:[REDACTED]@db.internal:5432/store; request headers "
        "{'X-Shopify-Access-Token': '[REDACTED]', 'Authorization': '[REDACTED]'}; "
        "the vault answered [REDACTED]")


def test_open_run_failure_is_reminded_in_its_thread(sandboxes, slack, dagster_instance, posted):
    server, workspace = slack
    env = sandboxes([], alerting=AlertingResource(
        slack_bot_token=workspace.bot_token, slack_api_base_url=workspace.api_url(server.url),
        remind_after_minutes=0))
    defs = dg.Definitions.merge(env.defs, dg.Definitions(jobs=[leaky_job]))
    daemon = Daemon(defs, dagster_instance)
    daemon.arm("run_failure_alert_sensor", "open_incidents_sensor")
    defs.resolve_job_def("leaky_job").execute_in_process(instance=dagster_instance,
                                                         raise_on_error=False)
    daemon.tick("run_failure_alert_sensor")
    daemon.tick("open_incidents_sensor")  # the reminder is due at once (after 0 minutes)
    first, reminder = posted.all()
    assert reminder["thread_ts"] == first["ts"]
    assert reminder["text"].startswith(
        ":rotating_light: STILL FAILING (reminder 1) shopify_to_quickbooks: Run failure: "
        "leaky_job failed in step leaky_step: RuntimeError: could not connect to "
        "postgresql://etl:[REDACTED]@")
