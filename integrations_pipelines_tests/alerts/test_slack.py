"""The notifiers and the fake Slack they are tested against, over real HTTP."""

from __future__ import annotations

import logging

import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.alerts.incidents import Action, IncidentManager
from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.messages import Alert, SlackMessage
from integrations_pipelines.alerts.redaction import REDACTED, Redactor
from integrations_pipelines.alerts.slack import (
    BotNotifier,
    LogOnlyNotifier,
    WebhookNotifier,
    notifier_from_env,
)
from integrations_pipelines.catalog import load_catalog
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.slack_app import SlackStore
from integrations_pipelines_tests.alerts.conftest import FakeClock

Slack = tuple[SandboxServer, SlackStore]
MESSAGE = SlackMessage(channel="#finance-integrations", text="hello",
                       blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


def test_fake_webhook_answers_like_slack(slack: Slack) -> None:
    server, store = slack
    ok = httpx.post(store.webhook_url(server.url), json={"text": "hi"})
    assert (ok.status_code, ok.text) == (200, "ok")
    unknown = httpx.post(f"{server.url}/services/T1/B2/nope", json={"text": "hi"})
    assert (unknown.status_code, unknown.text) == (404, "no_service")
    empty = httpx.post(store.webhook_url(server.url), json={})
    assert (empty.status_code, empty.text) == (400, "no_text")
    assert [m.text for m in store.messages] == ["hi"]


def test_fake_web_api_answers_like_slack(slack: Slack) -> None:
    server, store = slack
    url = f"{server.url}/api/chat.postMessage"
    auth = {"Authorization": f"Bearer {store.bot_token}"}

    def post(body: dict[str, object], headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(url, json=body, headers=headers if headers is not None else auth)

    missing = post({"channel": "#finance-integrations", "text": "x"}, headers={})
    assert (missing.status_code, missing.json()) == (200, {"ok": False, "error": "not_authed"})
    wrong = post({"channel": "#finance-integrations", "text": "x"},
                 headers={"Authorization": "Bearer xoxb-wrong"})
    assert (wrong.status_code, wrong.json()) == (200, {"ok": False, "error": "invalid_auth"})
    nowhere = post({"channel": "#nope", "text": "x"})
    assert (nowhere.status_code, nowhere.json()) == (200, {"ok": False,
                                                           "error": "channel_not_found"})
    good = post({"channel": "#finance-integrations", "text": "x"}).json()
    assert good["ok"] is True and good["channel"] == "C00000001"
    assert good["message"]["text"] == "x" and good["message"]["ts"] == good["ts"]
    by_id = post({"channel": "C00000001", "text": "y"}).json()
    assert by_id["ok"] is True

    httpx.post(f"{server.url}/_sandbox/rate_limit", json={"count": 2, "retry_after": 7})
    limited = post({"channel": "#finance-integrations", "text": "z"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert post({"channel": "#finance-integrations", "text": "z"}).status_code == 429
    assert post({"channel": "#finance-integrations", "text": "z"}).json()["ok"] is True

    listed = httpx.get(f"{server.url}/_sandbox/messages",
                       params={"channel": "#finance-integrations"}).json()["messages"]
    assert [m["text"] for m in listed] == ["x", "y", "z"]
    httpx.delete(f"{server.url}/_sandbox/messages")
    assert store.messages == [] and store.requests == []


def test_bot_notifier_reports_ts_and_errors(slack: Slack) -> None:
    server, store = slack
    good = BotNotifier(store.bot_token, base_url=store.api_url(server.url)).send(MESSAGE)
    assert good.ok and good.ts == store.messages[0].ts and good.channel == "C00000001"
    bad = BotNotifier(store.bot_token, base_url=store.api_url(server.url)).send(
        SlackMessage(channel="#nope", text="x", blocks=[]))
    assert (bad.ok, bad.error) == (False, "channel_not_found")


def test_rate_limit_beyond_the_retries_is_a_failure(slack: Slack) -> None:
    server, store = slack
    store.rate_limit_next(5, retry_after=0)
    notifier = BotNotifier(store.bot_token, base_url=store.api_url(server.url),
                           rate_limit_retries=1)
    delivery = notifier.send(MESSAGE)
    assert (delivery.ok, delivery.error) == (False, "ratelimited")
    assert [r["status"] for r in store.requests] == [429, 429]


def test_unreachable_slack_is_a_failure_without_the_token() -> None:
    token = "xoxb-unreachable-0000"
    delivery = BotNotifier(token, base_url="http://127.0.0.1:9/api/", timeout=2).send(MESSAGE)
    assert not delivery.ok and delivery.error and token not in delivery.error
    hook = "http://127.0.0.1:9/services/T1/B2/secretpart"
    delivery = WebhookNotifier(hook, timeout=2).send(MESSAGE)
    assert not delivery.ok and delivery.error and "secretpart" not in delivery.error


def test_configuration_from_the_environment(slack: Slack) -> None:
    server, store = slack
    assert isinstance(notifier_from_env({}), LogOnlyNotifier)
    webhook = notifier_from_env({"SLACK_WEBHOOK_URL": store.webhook_url(server.url)})
    assert isinstance(webhook, WebhookNotifier) and webhook.send(MESSAGE).ok
    bot = notifier_from_env({"SLACK_BOT_TOKEN": store.bot_token,
                             "SLACK_API_BASE_URL": f"{server.url}/api"})
    assert isinstance(bot, BotNotifier) and bot.send(MESSAGE).ok
    assert [m.via for m in store.messages] == ["webhook", "chat.postMessage"]


def test_without_slack_alerts_are_logged_and_recorded(
    engine: sa.Engine, clock: FakeClock, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("QBO_CLIENT_SECRET", "env-client-secret-42")
    manager = IncidentManager(engine, clock=clock)  # notifier and redactor from the env
    assert isinstance(manager.notifier, LogOnlyNotifier)
    alert = Alert(integration="shopify_to_quickbooks", kind=AlertKind.FRESHNESS,
                  summary="no orders since 30 h; client_secret env-client-secret-42 in error",
                  subject="asset=shopify/orders")
    with caplog.at_level(logging.WARNING):
        outcome = manager.raise_or_update(alert)
    assert outcome.action is Action.OPENED and outcome.notified
    assert "ALERT for #finance-integrations (Slack not configured)" in caplog.text
    assert "no orders since 30 h" in caplog.text
    assert "env-client-secret-42" not in caplog.text and REDACTED in caplog.text
    (row,) = manager.open_incidents()
    assert (row.kind, row.notifications, row.channel) == ("freshness", 1,
                                                           "#finance-integrations")
    assert "env-client-secret-42" not in row.summary


def test_unknown_integration_goes_to_the_default_channel(
    engine: sa.Engine, slack: Slack, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLACK_DEFAULT_CHANNEL", raising=False)
    server, store = slack
    manager = IncidentManager(engine, BotNotifier(store.bot_token,
                                                  base_url=store.api_url(server.url)),
                              clock=clock, redactor=Redactor())
    assert "no_such_integration" not in load_catalog()  # (stripe_to_warehouse is real now)
    manager.raise_or_update(Alert(integration="no_such_integration", kind="schedule_missed",
                                  summary="the 02:15 tick did not run"))
    (message,) = store.in_channel("#integrations-alerts")
    assert message.text == (":rotating_light: CRITICAL no_such_integration: Schedule missed: "
                            "the 02:15 tick did not run")


def test_the_sandbox_page_shows_each_message_once_as_slack_would(slack: Slack) -> None:
    server, store = slack
    text = ("*Reconciliation failed* for `2026-11-05`: 2 invoices <b>missing</b>\n"
            "<https://dagster.example/runs/abc|Open run abc> · _repair_ it")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    auth = {"Authorization": f"Bearer {store.bot_token}"}
    first = httpx.post(f"{server.url}/api/chat.postMessage", headers=auth,
                       json={"channel": "#finance-integrations", "text": text,
                             "blocks": blocks}).json()
    httpx.post(f"{server.url}/api/chat.postMessage", headers=auth,
               json={"channel": "#finance-integrations", "text": "still open",
                     "thread_ts": first["ts"]}).raise_for_status()

    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    body = page.text
    assert "2 message(s)" in body and body.count("Reconciliation failed") == 1
    assert "<b>Reconciliation failed</b>" in body and "<code>2026-11-05</code>" in body
    assert '<a href="https://dagster.example/runs/abc">Open run abc</a>' in body
    assert "<i>repair</i>" in body and "&lt;b&gt;missing&lt;/b&gt;" in body  # escaped
    assert f"reply in thread {first['ts']}" in body and "#finance-integrations" in body
    assert body.index("still open") < body.index("Reconciliation failed")  # newest first
