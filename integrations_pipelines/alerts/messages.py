"""Slack messages a person can act on: what failed, how much, why, and where to click.

Every message names the integration and the failure, shows the counts, the likely cause,
links to the Dagster run or asset and to the runbook entry for its kind, and passes every
field through the redactor: no token, secret or credential URL ever reaches Slack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from integrations_pipelines.alerts.kinds import AlertKind, Severity, kind_info
from integrations_pipelines.alerts.redaction import REDACTED, Redactor, redact

__all__ = [
    "REDACTED",
    "Alert",
    "Phase",
    "SlackMessage",
    "asset_url",
    "format_message",
    "redact",
    "run_url",
    "runbook_url",
    "ui_base_url",
]

DEFAULT_UI_URL = "http://127.0.0.1:3000"
DEFAULT_RUNBOOK_URL = "docs/RUNBOOK.md"
SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
HEADER_LIMIT = 150  # and header text over 150
MAX_FIELDS = 10  # and more than 10 fields in one section
ICONS = {Severity.WARNING: ":warning:", Severity.CRITICAL: ":rotating_light:"}


class Phase(StrEnum):
    """Which message of an incident's life: the first, a reminder, or the all-clear."""

    NEW = "new"
    REMINDER = "reminder"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One observation of a failure, as the rules and sensors report it.

    `subject` narrows the incident key within (integration, kind): the asset and partition,
    the check, the connection, the schedule. `details` are the counts shown to the reader
    (and stored, redacted, as the incident's last details). `action` is this alert's own
    first step, shown before the kind's general advice.
    """

    integration: str
    kind: AlertKind
    summary: str
    subject: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    cause: str | None = None
    run_id: str | None = None
    asset_key: Sequence[str] | None = None
    severity: Severity | None = None
    action: str | None = None  # this alert's own first step (the job to launch, on what)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AlertKind(self.kind))
        if self.severity is not None:
            object.__setattr__(self, "severity", Severity(self.severity))

    @property
    def effective_severity(self) -> Severity:
        """The given severity, or the kind's default."""
        return self.severity or kind_info(self.kind).severity


@dataclass(frozen=True)
class SlackMessage:
    """What is posted: the channel, the notification/fallback `text` and the Block Kit body."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body of chat.postMessage (an incoming webhook ignores `channel`)."""
        body: dict[str, Any] = {"channel": self.channel, "text": self.text, "blocks": self.blocks}
        if self.thread_ts:
            body.update(thread_ts=self.thread_ts, reply_broadcast=True)
        return body


def ui_base_url() -> str:
    """The Dagster UI's base URL (DAGSTER_UI_URL), without a trailing slash."""
    return os.environ.get("DAGSTER_UI_URL", DEFAULT_UI_URL).rstrip("/")


def run_url(run_id: str, ui: str | None = None) -> str:
    """Link to one run in the Dagster UI."""
    return f"{ui or ui_base_url()}/runs/{quote(run_id, safe='')}"


def asset_url(asset_key: Sequence[str], ui: str | None = None) -> str:
    """Link to one asset in the Dagster UI (key path joined by `/`)."""
    return f"{ui or ui_base_url()}/assets/" + "/".join(quote(p, safe="") for p in asset_key)


def runbook_url(kind: AlertKind | str) -> str:
    """Link to the runbook entry of `kind` (RUNBOOK_URL overrides `docs/RUNBOOK.md`)."""
    base = os.environ.get("RUNBOOK_URL", DEFAULT_RUNBOOK_URL)
    return f"{base}#{kind_info(kind).anchor}"


def _escape(text: str) -> str:
    """Slack mrkdwn control characters, so that `<` in an error is not read as a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}d " if days else "") + f"{hours}h {minutes:02d}m"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}}


def _links(alert: Alert, ui: str | None) -> list[str]:
    links = []
    if alert.run_id:
        links.append(f"<{run_url(alert.run_id, ui)}|Open run {_escape(alert.run_id[:8])}>")
    if alert.asset_key:
        label = _escape("/".join(alert.asset_key))
        links.append(f"<{asset_url(alert.asset_key, ui)}|Open asset {label}>")
    info = kind_info(alert.kind)
    links.append(f"<{runbook_url(alert.kind)}|Runbook: {info.title}>")
    return links


def _headline(alert: Alert, phase: Phase, notifications: int, opened_at: datetime | None,
              now: datetime | None) -> tuple[str, str]:
    info = kind_info(alert.kind)
    severity = alert.effective_severity
    if phase is Phase.RESOLVED:
        icon, state = ":white_check_mark:", "RESOLVED"
    elif phase is Phase.REMINDER:
        icon, state = ICONS[severity], f"STILL FAILING (reminder {notifications})"
    else:
        icon, state = ICONS[severity], severity.upper()
    header = f"{state} {alert.integration}: {info.title}"
    text = f"{icon} {header}: {alert.summary}"
    if opened_at is not None and now is not None and phase is not Phase.NEW:
        text += f" (open for {_duration(now - opened_at)})"
    return header, text


def format_message(
    alert: Alert,
    *,
    channel: str,
    phase: Phase = Phase.NEW,
    redactor: Redactor | None = None,
    incident_id: int | None = None,
    notifications: int = 0,
    opened_at: datetime | None = None,
    now: datetime | None = None,
    ui: str | None = None,
) -> SlackMessage:
    """The Slack message for `alert` at `phase` of its incident, every field redacted."""
    scrub = redactor or Redactor()
    safe = Alert(
        integration=scrub(alert.integration), kind=alert.kind, summary=scrub(alert.summary),
        subject=scrub(alert.subject), details=scrub.redact_value(dict(alert.details)),
        cause=scrub(alert.cause) if alert.cause else None,
        run_id=scrub(alert.run_id) if alert.run_id else None,
        asset_key=[scrub(p) for p in alert.asset_key] if alert.asset_key else None,
        severity=alert.severity, action=scrub(alert.action) if alert.action else None,
    )
    header, text = _headline(safe, phase, notifications, opened_at, now)
    info = kind_info(safe.kind)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(header, HEADER_LIMIT)}},
    ]
    if phase is Phase.RESOLVED:
        blocks.append(_section(f"*Recovered:* {_escape(safe.summary)}"))
    else:
        blocks.append(_section(f"*What failed:* {_escape(safe.summary)}"))
    if safe.subject:
        blocks.append(_section(f"*Where:* `{_escape(safe.subject)}`"))
    if safe.details:
        fields = [
            {"type": "mrkdwn", "text": _clip(f"*{_escape(str(k))}:* {_escape(str(v))}", 1900)}
            for k, v in list(safe.details.items())[:MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    if safe.cause and phase is not Phase.RESOLVED:
        blocks.append(_section(f"*Likely cause:* {_escape(safe.cause)}"))
    if phase is not Phase.RESOLVED:
        first = f"{_escape(safe.action)} " if safe.action else ""
        blocks.append(_section(f"*What to do:* {first}{info.what_to_do}"))
    blocks.append(_section(" · ".join(_links(safe, ui))))
    context = [f"kind `{safe.kind.value}`", f"severity {safe.effective_severity.value}"]
    if incident_id is not None:
        context.insert(0, f"incident #{incident_id}")
    if opened_at is not None:
        context.append(f"opened {opened_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if phase is Phase.RESOLVED and opened_at is not None and now is not None:
        context.append(f"open for {_duration(now - opened_at)}")
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    message = SlackMessage(channel=channel, text=_clip(text, SECTION_LIMIT), blocks=blocks)
    # Belt and braces: every string of the final payload goes through the redactor again.
    return SlackMessage(channel=message.channel, text=scrub(message.text),
                        blocks=scrub.redact_value(message.blocks))
