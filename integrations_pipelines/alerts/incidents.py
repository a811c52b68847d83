"""Incident dedupe in PostgreSQL: each failure reaches Slack once, then reminders, then the
all-clear.

An incident is keyed by (integration, alert kind, subject); at most one is open per key
(a partial unique index). `raise_or_update` is called on every observation of a failure
(each sensor tick): it notifies when the incident opens, stays quiet while it stays open,
reminds after `remind_after`, and retries a delivery Slack refused. `resolve` closes the
incident and posts one "resolved" message when the switch turns green again.

Concurrency: the open row is created with INSERT ... ON CONFLICT DO NOTHING and then held
with SELECT ... FOR UPDATE while the message is sent and the result written, in one
transaction: two processes observing the same failure at once send one message, and a
crash before the commit leaves the incident unannounced so the next observation sends it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.alerts.messages import Alert, Phase, SlackMessage, format_message
from integrations_pipelines.alerts.redaction import Redactor
from integrations_pipelines.alerts.slack import Delivery, Notifier, notifier_from_env
from integrations_pipelines.catalog import load_catalog
from integrations_pipelines.state.tables import incidents

__all__ = [
    "FALLBACK_CHANNEL",
    "Action",
    "Clock",
    "IncidentManager",
    "IncidentPolicy",
    "Outcome",
    "catalog_channel",
    "incident_subject",
    "log",
    "open_and_recent",
    "utc_now",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
FALLBACK_CHANNEL = "#integrations-alerts"
OPEN, RESOLVED = "open", "resolved"


def utc_now() -> datetime:
    """The real clock (tests pass their own)."""
    return datetime.now(UTC)


def catalog_channel(integration: str) -> str:
    """The integration's Slack channel from the catalog; SLACK_DEFAULT_CHANNEL (or
    #integrations-alerts) for a name the catalog does not know."""
    entry = load_catalog().get(integration)
    if entry is not None:
        return entry.slack_channel
    return os.environ.get("SLACK_DEFAULT_CHANNEL", FALLBACK_CHANNEL)


def incident_subject(*, asset: str | None = None, partition: str | None = None,
                     check: str | None = None, connection: str | None = None,
                     schedule: str | None = None) -> str:
    """A stable subject string from the parts that narrow an incident, e.g.
    `asset=quickbooks/invoices partition=2026-10-05`."""
    parts = {"asset": asset, "partition": partition, "check": check,
             "connection": connection, "schedule": schedule}
    return " ".join(f"{name}={value}" for name, value in parts.items() if value)


@dataclass(frozen=True)
class IncidentPolicy:
    """When to speak: repeats within `remind_after` of the last message are suppressed (the
    quiet period), then a reminder goes out; a refused delivery is retried on the next
    observation at least `retry_failed_after` after the failed attempt."""

    remind_after: timedelta = timedelta(hours=4)
    retry_failed_after: timedelta = timedelta(minutes=5)


class Action(StrEnum):
    """What `raise_or_update` / `resolve` did about an observation."""

    OPENED = "opened"
    RETRIED = "retried"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Outcome:
    """The incident touched and whether a message went out (`delivery` None: none tried)."""

    incident_id: int
    action: Action
    delivery: Delivery | None
    notifications: int

    @property
    def notified(self) -> bool:
        """A message reached Slack (or the log) for this observation."""
        return self.delivery is not None and self.delivery.ok


class IncidentManager:
    """Raises, deduplicates, reminds about and resolves incidents; one per process is fine."""

    def __init__(self, engine: sa.Engine, notifier: Notifier | None = None, *,
                 policy: IncidentPolicy | None = None, clock: Clock = utc_now,
                 redactor: Redactor | None = None,
                 channel_for: Callable[[str], str] = catalog_channel,
                 ui_url: str | None = None) -> None:
        self.engine = engine
        self.notifier = notifier if notifier is not None else notifier_from_env()
        self.policy = policy or IncidentPolicy()
        self.clock = clock
        self.redactor = redactor if redactor is not None else Redactor.from_environment()
        self.redactor.register(*self.notifier.secrets())
        self.channel_for = channel_for
        self.ui_url = ui_url

    def raise_or_update(self, alert: Alert) -> Outcome:
        """Record one observation of a failure; notify if it is new or a reminder is due."""
        now = self.clock()
        values = self._observation(alert, now)
        for _ in range(3):  # the row may be resolved between our insert and our lock
            with self.engine.begin() as conn:
                inserted = conn.execute(
                    pg_insert(incidents)
                    .values(status=OPEN, opened_at=now, occurrences=1, notifications=0,
                            channel=self.channel_for(alert.integration), **values)
                    .on_conflict_do_nothing(
                        index_elements=["integration", "kind", "subject"],
                        index_where=incidents.c.status == OPEN,
                    )
                    .returning(incidents.c.id)
                ).first()
                row = conn.execute(
                    _open_row(alert.integration, alert.kind, alert.subject).with_for_update()
                ).first()
                if row is None:
                    continue
                if inserted is None:
                    severity = _max_severity(row.severity, values["severity"])
                    conn.execute(incidents.update().where(incidents.c.id == row.id).values(
                        {**values, "severity": severity,
                         "occurrences": incidents.c.occurrences + 1}))
                action = Action.OPENED if inserted is not None else self._decide(row, alert, now)
                delivery = None
                if action is not Action.SUPPRESSED:
                    phase = Phase.REMINDER if row.notifications else Phase.NEW
                    delivery = self._notify(conn, row, alert, phase, now)
                notifications = row.notifications + (1 if delivery and delivery.ok else 0)
            outcome = Outcome(row.id, action, delivery, notifications)
            self._log(alert, outcome)
            return outcome
        raise RuntimeError(f"incident for {alert.integration}/{alert.kind} kept changing")

    def resolve(self, integration: str, kind: AlertKind | str, subject: str = "", *,
                summary: str | None = None, details: Mapping[str, Any] | None = None,
                run_id: str | None = None, asset_key: Sequence[str] | None = None,
                ) -> Outcome | None:
        """Close the open incident of this key, with one "resolved" message if it had been
        announced; None (and no message) when nothing was open."""
        now = self.clock()
        kind = AlertKind(kind)
        with self.engine.begin() as conn:
            row = conn.execute(_open_row(integration, kind, subject).with_for_update()).first()
            if row is None:
                return None
            conn.execute(incidents.update().where(incidents.c.id == row.id)
                         .values(status=RESOLVED, resolved_at=now))
            delivery = None
            if row.notifications:
                alert = Alert(
                    integration=integration, kind=kind, subject=subject,
                    summary=summary or f"no longer failing: {row.summary}",
                    details=details or {}, run_id=run_id, asset_key=asset_key,
                    severity=Severity(row.severity),
                )
                delivery = self._notify(conn, row, alert, Phase.RESOLVED, now)
        outcome = Outcome(row.id, Action.RESOLVED, delivery,
                          row.notifications + (1 if delivery and delivery.ok else 0))
        log.info("incident #%s %s/%s %s resolved", row.id, integration, kind.value,
                 self.redactor(subject))
        return outcome

    def open_incidents(self, integration: str | None = None) -> list[sa.Row[Any]]:
        """The incidents still open, oldest first (for status pages and the CLI)."""
        query = sa.select(incidents).where(incidents.c.status == OPEN)
        if integration is not None:
            query = query.where(incidents.c.integration == integration)
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(incidents.c.opened_at)))

    def _observation(self, alert: Alert, now: datetime) -> dict[str, Any]:
        details = json.loads(json.dumps(dict(alert.details), default=str))
        return {
            "integration": alert.integration, "kind": AlertKind(alert.kind).value,
            "subject": alert.subject, "severity": alert.effective_severity.value,
            "summary": self.redactor(alert.summary),
            "details": self.redactor.redact_value(details), "last_seen_at": now,
        }

    def _decide(self, row: Any, alert: Alert, now: datetime) -> Action:
        if (row.last_error is not None and row.last_attempt_at is not None
                and now - row.last_attempt_at < self.policy.retry_failed_after):
            return Action.SUPPRESSED
        if not row.notifications:
            return Action.RETRIED
        if _max_severity(row.severity, alert.effective_severity) != row.severity:
            return Action.ESCALATED
        if now - row.last_notified_at >= self.policy.remind_after:
            return Action.REMINDED
        return Action.SUPPRESSED

    def _notify(self, conn: sa.Connection, row: Any, alert: Alert, phase: Phase,
                now: datetime) -> Delivery:
        message = format_message(
            alert, channel=row.channel, phase=phase, redactor=self.redactor,
            incident_id=row.id, notifications=row.notifications,
            opened_at=row.opened_at, now=now, ui=self.ui_url,
        )
        if phase is not Phase.NEW and row.message_ts:
            message = replace(message, thread_ts=row.message_ts)
        delivery = self._send(message)
        update: dict[str, Any] = {"last_attempt_at": now}
        if delivery.ok:
            update.update(last_notified_at=now, notifications=incidents.c.notifications + 1,
                          last_error=None,
                          message_ts=sa.func.coalesce(incidents.c.message_ts, delivery.ts))
        else:
            update["last_error"] = self.redactor(delivery.error or "unknown error")
        conn.execute(incidents.update().where(incidents.c.id == row.id).values(**update))
        return delivery

    def _send(self, message: SlackMessage) -> Delivery:
        try:
            return self.notifier.send(message)
        except Exception as exc:  # a broken notifier must not lose the incident record
            return Delivery(ok=False, transport=getattr(self.notifier, "transport", "?"),
                            error=self.redactor(f"{type(exc).__name__}: {exc}"))

    def _log(self, alert: Alert, outcome: Outcome) -> None:
        level = logging.INFO if outcome.action is Action.SUPPRESSED else logging.WARNING
        error = outcome.delivery.error if outcome.delivery and not outcome.delivery.ok else None
        log.log(level, "incident #%s %s/%s %s: %s%s", outcome.incident_id, alert.integration,
                AlertKind(alert.kind).value, self.redactor(alert.subject), outcome.action.value,
                f" (delivery failed: {error})" if error else "")


def _open_row(integration: str, kind: AlertKind | str, subject: str) -> sa.Select[Any]:
    return sa.select(incidents).where(
        incidents.c.integration == integration, incidents.c.kind == AlertKind(kind).value,
        incidents.c.subject == subject, incidents.c.status == OPEN,
    )


def _max_severity(current: str, new: Severity | str) -> str:
    critical = Severity.CRITICAL in (current, new)
    return (Severity.CRITICAL if critical else Severity.WARNING).value


def open_and_recent(conn: sa.Connection, since: datetime,
                    ) -> tuple[list[sa.Row[Any]], list[sa.Row[Any]]]:
    """The open incidents (newest first) and those resolved since `since` (newest first)."""
    opened = list(conn.execute(sa.select(incidents).where(incidents.c.status == OPEN)
                               .order_by(incidents.c.opened_at.desc())))
    resolved = list(conn.execute(
        sa.select(incidents).where(incidents.c.status == RESOLVED,
                                   incidents.c.resolved_at >= since)
        .order_by(incidents.c.resolved_at.desc())))
    return opened, resolved
