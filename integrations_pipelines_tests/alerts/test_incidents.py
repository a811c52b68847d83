"""Once per incident, over real HTTP to the fake Slack and real PostgreSQL: the first
message, silence while it stays open, reminders, the all-clear, and failures recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.alerts.incidents import (
    Action,
    IncidentManager,
    IncidentPolicy,
    incident_subject,
)
from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.alerts.messages import Alert
from integrations_pipelines.alerts.redaction import REDACTED, Redactor
from integrations_pipelines.alerts.slack import BotNotifier, WebhookNotifier
from integrations_pipelines.alerts.volume import check_volume
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.slack_app import SlackStore
from integrations_pipelines_tests.alerts.conftest import FakeClock

INTEGRATION = "shopify_to_quickbooks"
CHANNEL_ID = "C00000001"  # "#finance-integrations", the catalog's channel, in the fake Slack
SUBJECT = incident_subject(asset="shopify_to_quickbooks/invoice_sync", partition="2026-11-01")
Posted = Callable[[], list[dict[str, Any]]]


def run_failure(summary: str = "step invoice_sync failed: QuickBooks answered 400",
                **changes: Any) -> Alert:
    values: dict[str, Any] = dict(
        integration=INTEGRATION, kind=AlertKind.RUN_FAILURE, subject=SUBJECT, summary=summary,
        details={"synced": 97, "dead_lettered": 3}, run_id="0a1b2c3d-run",
        asset_key=["shopify_to_quickbooks", "invoice_sync"],
    )
    values.update(changes)
    return Alert(**values)


def bot(slack: tuple[SandboxServer, SlackStore], token: str | None = None) -> BotNotifier:
    server, store = slack
    return BotNotifier(token or store.bot_token, base_url=store.api_url(server.url))


def incident_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM incidents ORDER BY id")))


def test_one_message_per_incident_then_reminders_then_resolved(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor())

    opened = clock.now
    first = manager.raise_or_update(run_failure())
    assert (first.action, first.notified, first.notifications) == (Action.OPENED, True, 1)
    messages = posted()
    assert len(messages) == 1
    assert messages[0]["channel"] == CHANNEL_ID
    assert messages[0]["channel_name"] == "#finance-integrations"
    assert messages[0]["text"] == (
        ":rotating_light: CRITICAL shopify_to_quickbooks: Run failure: "
        "step invoice_sync failed: QuickBooks answered 400"
    )
    links = messages[0]["blocks"][-2]["text"]["text"]
    assert "<http://127.0.0.1:3000/runs/0a1b2c3d-run|Open run 0a1b2c3d>" in links
    assert "<docs/RUNBOOK.md#run-failure|Runbook: Run failure>" in links

    # Every sensor tick sees the failure again: silence within the quiet period.
    for minutes in (1, 30, 120, 239):
        clock.now = opened + timedelta(minutes=minutes)
        assert manager.raise_or_update(run_failure()).action is Action.SUPPRESSED
    assert len(posted()) == 1

    clock.now = opened + timedelta(hours=4)
    reminder = manager.raise_or_update(run_failure())
    assert (reminder.action, reminder.notifications) == (Action.REMINDED, 2)
    messages = posted()
    assert len(messages) == 2
    assert messages[1]["text"] == (
        ":rotating_light: STILL FAILING (reminder 1) shopify_to_quickbooks: Run failure: "
        "step invoice_sync failed: QuickBooks answered 400 (open for 4h 00m)"
    )
    assert messages[1]["thread_ts"] == messages[0]["ts"]  # in the thread, broadcast
    assert messages[1]["payload"]["reply_broadcast"] is True

    clock.advance(hours=1)
    assert manager.raise_or_update(run_failure()).action is Action.SUPPRESSED
    clock.advance(hours=3)
    assert manager.raise_or_update(run_failure()).action is Action.REMINDED
    assert "(reminder 2)" in posted()[2]["text"]

    clock.advance(minutes=20)
    resolved = manager.resolve(INTEGRATION, AlertKind.RUN_FAILURE, SUBJECT,
                               summary="partition 2026-11-01 synced 100 of 100 orders")
    assert resolved is not None and resolved.action is Action.RESOLVED
    messages = posted()
    assert len(messages) == 4
    assert messages[3]["text"] == (
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Run failure: "
        "partition 2026-11-01 synced 100 of 100 orders (open for 8h 20m)"
    )
    # Green again and again: nothing more is said.
    assert manager.resolve(INTEGRATION, AlertKind.RUN_FAILURE, SUBJECT) is None
    assert len(posted()) == 4

    (row,) = incident_rows(engine)
    assert (row.status, row.notifications, row.occurrences) == ("resolved", 4, 8)
    assert row.message_ts == messages[0]["ts"]
    assert row.resolved_at == clock.now
    assert row.details == {"synced": 97, "dead_lettered": 3}


def test_recurrence_after_resolution_is_a_new_incident(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor())
    manager.raise_or_update(run_failure())
    clock.advance(minutes=10)
    manager.resolve(INTEGRATION, "run_failure", SUBJECT)
    clock.advance(minutes=10)
    again = manager.raise_or_update(run_failure())
    assert again.action is Action.OPENED
    assert [m["text"].split(" ")[1] for m in posted()] == ["CRITICAL", "RESOLVED", "CRITICAL"]
    assert [r.status for r in incident_rows(engine)] == ["resolved", "open"]
    # Other subjects and kinds are other incidents.
    other = manager.raise_or_update(run_failure(subject="partition=2026-11-02"))
    assert other.action is Action.OPENED and other.incident_id != again.incident_id
    assert len(manager.open_incidents(INTEGRATION)) == 2


def test_configurable_reminder_and_escalation(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor(),
                              policy=IncidentPolicy(remind_after=timedelta(minutes=30)))
    volume = Alert(integration=INTEGRATION, kind=AlertKind.VOLUME, summary="12 of 102 orders",
                   subject="partition=2026-11-30")
    assert manager.raise_or_update(volume).action is Action.OPENED
    clock.advance(minutes=29)
    assert manager.raise_or_update(volume).action is Action.SUPPRESSED
    clock.advance(minutes=1)
    assert manager.raise_or_update(volume).action is Action.REMINDED
    clock.advance(minutes=1)
    worse = manager.raise_or_update(Alert(integration=INTEGRATION, kind=AlertKind.VOLUME,
                                          summary="0 of 102 orders", subject="partition=2026-11-30",
                                          severity=Severity.CRITICAL))
    assert worse.action is Action.ESCALATED
    texts = [m["text"] for m in posted()]
    assert texts[0].startswith(":warning: WARNING")
    assert texts[2].startswith(":rotating_light: STILL FAILING (reminder 2)")
    assert incident_rows(engine)[0].severity == "critical"


def test_secrets_never_reach_slack_or_the_database(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    _, store = slack
    refresh_token = "AB11-quickbooks-refresh-token-xyz"
    redactor = Redactor()
    redactor.register(refresh_token)
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=redactor)
    failure = run_failure(
        summary=f"token refresh failed: refresh_token={refresh_token}, "
                f"Authorization: Bearer {refresh_token}; slack said {store.bot_token}",
        details={"body": json.dumps({"refresh_token": refresh_token, "error": "invalid_grant"}),
                 "echo": f"received {refresh_token}"},
        cause=f"the vendor rejected {refresh_token}",
    )
    manager.raise_or_update(failure)
    clock.advance(hours=5)
    manager.raise_or_update(failure)
    manager.resolve(INTEGRATION, AlertKind.RUN_FAILURE, SUBJECT, summary=f"ok {refresh_token}")

    received = json.dumps(posted())
    assert len(posted()) == 3
    assert refresh_token not in received
    assert store.bot_token not in received  # the notifier's own token is always registered
    assert REDACTED in received
    stored = json.dumps([dict(r._mapping) for r in incident_rows(engine)], default=str)
    assert refresh_token not in stored and store.bot_token not in stored


def test_slack_error_with_http_200_is_a_recorded_failure_then_retried(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    _, store = slack
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor(),
                              channel_for=lambda _: "#finance-alerts-typo")
    first = manager.raise_or_update(run_failure())
    assert first.action is Action.OPENED and not first.notified
    assert first.delivery is not None and first.delivery.error == "channel_not_found"
    assert store.requests[-1] == {"path": "/api/chat.postMessage", "status": 200,
                                  "error": "channel_not_found"}
    assert posted() == []
    (row,) = incident_rows(engine)
    assert (row.notifications, row.last_error, row.last_notified_at) == (0, "channel_not_found",
                                                                         None)

    clock.advance(minutes=2)  # within the retry interval: no hammering of Slack
    assert manager.raise_or_update(run_failure()).action is Action.SUPPRESSED
    assert len(store.requests) == 1

    store.channels["finance-alerts-typo"] = "C00000099"  # someone creates the channel
    clock.advance(minutes=5)
    retried = manager.raise_or_update(run_failure())
    assert retried.action is Action.RETRIED and retried.notified
    (message,) = posted()
    assert message["channel"] == "C00000099"
    assert message["text"].startswith(":rotating_light: CRITICAL")  # still the first message
    (row,) = incident_rows(engine)
    assert (row.notifications, row.last_error) == (1, None)


def test_invalid_token_is_a_recorded_failure(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    manager = IncidentManager(engine, bot(slack, token="xoxb-wrong-token-123"), clock=clock,
                              redactor=Redactor())
    outcome = manager.raise_or_update(run_failure())
    assert outcome.delivery is not None and outcome.delivery.error == "invalid_auth"
    assert incident_rows(engine)[0].last_error == "invalid_auth"
    assert posted() == []


def test_rate_limit_is_retried_after_retry_after(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    _, store = slack
    store.rate_limit_next(1, retry_after=0)
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor())
    assert manager.raise_or_update(run_failure()).notified
    assert [r["status"] for r in store.requests] == [429, 200]
    assert len(posted()) == 1


def test_incoming_webhook(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    server, store = slack
    url = store.webhook_url(server.url)
    manager = IncidentManager(engine, WebhookNotifier(url), clock=clock, redactor=Redactor())
    outcome = manager.raise_or_update(run_failure(summary=f"posted to {url}"))
    assert outcome.notified and outcome.delivery is not None
    assert outcome.delivery.transport == "webhook"
    (message,) = posted()
    assert message["via"] == "webhook"
    assert message["text"] == (":rotating_light: CRITICAL shopify_to_quickbooks: Run failure: "
                               f"posted to {REDACTED}")  # the webhook URL is a secret
    assert message["blocks"][0]["type"] == "header"
    assert incident_rows(engine)[0].message_ts is None  # webhooks return no ts


def test_unknown_webhook_is_a_recorded_failure(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    server, _ = slack
    notifier = WebhookNotifier(f"{server.url}/services/T000/B000/revokedhook")
    manager = IncidentManager(engine, notifier, clock=clock, redactor=Redactor())
    outcome = manager.raise_or_update(run_failure())
    assert outcome.delivery is not None and outcome.delivery.error == "HTTP 404: no_service"
    assert incident_rows(engine)[0].last_error == "HTTP 404: no_service"
    assert posted() == []


def test_concurrent_observers_send_one_message(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    managers = [IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor())
                for _ in range(8)]
    barrier = threading.Barrier(len(managers))
    actions: list[Action] = []

    def observe(manager: IncidentManager) -> None:
        barrier.wait()
        actions.append(manager.raise_or_update(run_failure()).action)

    threads = [threading.Thread(target=observe, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(actions) == sorted([Action.OPENED] + [Action.SUPPRESSED] * 7)
    assert len(posted()) == 1
    (row,) = incident_rows(engine)
    assert (row.occurrences, row.notifications) == (8, 1)


def test_quiet_weekend_says_nothing_and_a_short_monday_alerts(
    engine: sa.Engine, slack: tuple[SandboxServer, SlackStore], clock: FakeClock,
    posted: Posted,
) -> None:
    """The volume rule as a sensor would drive it: resolve when green, raise when not."""
    manager = IncidentManager(engine, bot(slack), clock=clock, redactor=Redactor())
    start = date(2026, 10, 5)
    history = {start + timedelta(d): (0 if (start + timedelta(d)).weekday() >= 5 else 100)
               for d in range(56)}  # eight weeks of a B2B shop, to Sunday 2026-11-29

    def evaluate(day: date, actual: int) -> None:
        verdict = check_volume(history, day, actual)
        subject = incident_subject(asset="shopify/orders", partition=day.isoformat())
        if verdict.ok:
            manager.resolve(INTEGRATION, AlertKind.VOLUME, subject)
        else:
            manager.raise_or_update(Alert(
                integration=INTEGRATION, kind=AlertKind.VOLUME, subject=subject,
                summary=verdict.reason, details=verdict.metadata(),
                asset_key=["shopify", "orders"]))

    evaluate(date(2026, 11, 28), 0)  # Saturday
    evaluate(date(2026, 11, 29), 0)  # Sunday
    assert posted() == []
    assert incident_rows(engine) == []

    evaluate(date(2026, 11, 30), 7)  # Monday
    (message,) = posted()
    assert message["text"] == (
        ":warning: WARNING shopify_to_quickbooks: Volume: 7 records is 7% of the 100 expected "
        "(the median of the last 6 Mondays); the alert threshold is 50%"
    )
    fields = {f["text"] for f in message["blocks"][3]["fields"]}
    assert {"*actual:* 7", "*expected:* 100.0", "*ratio:* 0.07"} <= fields
