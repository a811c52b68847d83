"""Alert messages: who, what, how much, why, where to click; runbook entries exist."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations_pipelines.alerts.kinds import KINDS, AlertKind, Severity
from integrations_pipelines.alerts.messages import (
    Alert,
    Phase,
    asset_url,
    format_message,
    run_url,
    runbook_url,
)
from integrations_pipelines.alerts.redaction import REDACTED, Redactor

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "RUNBOOK.md"
OPENED = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def github_anchor(heading: str) -> str:
    """GitHub's slug of a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_every_kind_has_a_runbook_entry() -> None:
    headings = re.findall(r"^## (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    anchors = {github_anchor(h) for h in headings}
    assert {info.anchor for info in KINDS.values()} <= anchors
    assert set(KINDS) == set(AlertKind)


def test_links_to_dagster_and_runbook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_UI_URL", raising=False)
    monkeypatch.delenv("RUNBOOK_URL", raising=False)
    assert run_url("abc-123") == "http://127.0.0.1:3000/runs/abc-123"
    assert asset_url(["quickbooks", "invoices"]) == "http://127.0.0.1:3000/assets/quickbooks/invoices"
    assert runbook_url(AlertKind.TOKEN_REVOKED) == "docs/RUNBOOK.md#token-revoked"
    monkeypatch.setenv("DAGSTER_UI_URL", "https://dagster.example.com/")
    monkeypatch.setenv("RUNBOOK_URL", "https://github.com/acme/ip/blob/main/docs/RUNBOOK.md")
    assert run_url("r1") == "https://dagster.example.com/runs/r1"
    assert runbook_url("volume") == "https://github.com/acme/ip/blob/main/docs/RUNBOOK.md#volume"


def test_new_incident_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_UI_URL", "http://dagster.local:3000")
    monkeypatch.delenv("RUNBOOK_URL", raising=False)
    alert = Alert(
        integration="shopify_to_quickbooks", kind=AlertKind.CHECK_FAILURE,
        summary="3 orders have no invoice <for 2026-11-01>",
        subject="check=every_synced_order_has_one_invoice partition=2026-11-01",
        details={"missing": 3, "duplicates": 0}, cause="QuickBooks returned 500 during the run",
        run_id="8f2b6c1e-aaaa-bbbb", asset_key=["quickbooks", "invoices"],
    )
    message = format_message(alert, channel="#finance-integrations", incident_id=7,
                             opened_at=OPENED, now=OPENED)
    assert message.channel == "#finance-integrations"
    assert message.text == (":rotating_light: CRITICAL shopify_to_quickbooks: Check failure: "
                            "3 orders have no invoice <for 2026-11-01>")
    assert message.blocks == [
        {"type": "header", "text": {"type": "plain_text",
                                    "text": "CRITICAL shopify_to_quickbooks: Check failure"}},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*What failed:* 3 orders have no invoice &lt;for 2026-11-01&gt;"}},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*Where:* `check=every_synced_order_has_one_invoice partition=2026-11-01`"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*missing:* 3"},
                                       {"type": "mrkdwn", "text": "*duplicates:* 0"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*Likely cause:* QuickBooks returned 500 during the run"}},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*What to do:* " + KINDS[AlertKind.CHECK_FAILURE].what_to_do}},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "<http://dagster.local:3000/runs/8f2b6c1e-aaaa-bbbb|Open run 8f2b6c1e> · "
            "<http://dagster.local:3000/assets/quickbooks/invoices|Open asset quickbooks/invoices>"
            " · <docs/RUNBOOK.md#check-failure|Runbook: Check failure>"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            "incident #7 · kind `check_failure` · severity critical · "
            "opened 2026-11-02 07:00 UTC"}]},
    ]


def test_reminder_and_resolved_wording() -> None:
    alert = Alert(integration="shopify_to_quickbooks", kind=AlertKind.VOLUME,
                  summary="12 orders, 12% of 102 expected", severity=Severity.WARNING)
    later = OPENED + timedelta(hours=4, minutes=5)
    reminder = format_message(alert, channel="#c", phase=Phase.REMINDER, notifications=1,
                              opened_at=OPENED, now=later)
    assert reminder.text == (":warning: STILL FAILING (reminder 1) shopify_to_quickbooks: Volume: "
                             "12 orders, 12% of 102 expected (open for 4h 05m)")
    resolved = format_message(alert, channel="#c", phase=Phase.RESOLVED, opened_at=OPENED,
                              now=later + timedelta(days=1))
    assert resolved.text == (":white_check_mark: RESOLVED shopify_to_quickbooks: Volume: "
                             "12 orders, 12% of 102 expected (open for 1d 4h 05m)")
    assert "What to do" not in json.dumps(resolved.blocks)


def test_every_field_is_redacted() -> None:
    token = "qbo-access-token-9f8e7d6c"
    redactor = Redactor([token])
    alert = Alert(
        integration="shopify_to_quickbooks", kind=AlertKind.RUN_FAILURE,
        summary=f"POST /invoice failed, Authorization: Bearer {token}",
        subject=f"connection=quickbooks token={token}",
        details={"request": f"refresh_token={token}&grant_type=refresh_token",
                 "headers": {"X-Shopify-Access-Token": "shpat_live_1234567890"}},
        cause=f"the token {token} was rejected; webhook secret whsec_abcDEF123",
        run_id=token,
    )
    payload = json.dumps([format_message(alert, channel="#c", phase=phase, redactor=redactor,
                                         opened_at=OPENED, now=OPENED).payload()
                          for phase in Phase])
    for secret in (token, "shpat_live_1234567890", "whsec_abcDEF123"):
        assert secret not in payload
    assert REDACTED in payload


def test_long_text_is_clipped_to_slack_limits() -> None:
    alert = Alert(integration="x", kind=AlertKind.RUN_FAILURE, summary="e" * 10_000,
                  details={f"k{i}": i for i in range(15)})
    message = format_message(alert, channel="#c")
    assert len(message.text) <= 3000
    sections = [b for b in message.blocks if b["type"] == "section" and "text" in b]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert all(len(b.get("fields", [])) <= 10 for b in message.blocks)
