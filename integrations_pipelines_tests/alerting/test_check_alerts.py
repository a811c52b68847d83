"""A failed reconciliation check reaches Slack once, with its counts, cause and links, and the
all-clear follows when the repair job makes the check pass; the run that failed on the
blocking check is not a second incident. The incidents are visible on `alerts/incidents`."""

from __future__ import annotations

import dagster as dg

from integrations_pipelines.catalog import integration
from integrations_pipelines_tests.alerting.conftest import CHANNEL, UI, Daemon
from integrations_pipelines_tests.reconciliation.drift import (
    INVOICES_KEY,
    REPAIR_JOB,
    Bookkeeper,
    run,
    small_shop,
)

SENSORS = ("asset_check_alert_sensor", "run_failure_alert_sensor", "run_recovery_sensor",
           "open_incidents_sensor")
HEAD = ":rotating_light: CRITICAL shopify_to_quickbooks: Check failure: "
RECONCILED = (HEAD + "invoices_match_shopify_orders failed on quickbooks/invoices for "
              "2026-11-06: 1 of 24 orders' invoices disagree with Shopify in "
              "2026-11-06..2026-11-07")
ONE_INVOICE = (HEAD + "every_synced_order_has_one_invoice failed on quickbooks/invoices for "
               "2026-11-06")
# The keep-up check runs in the read-back's step too: it reports (and alerts) even when the
# read-back's blocking checks fail, instead of reading "Execution failed" in the UI.
KEEP_UP = (":rotating_light: CRITICAL shopify_to_quickbooks: Volume: invoices_keep_up_with_orders "
           "failed on quickbooks/invoices for 2026-11-06: destination has 22 of 23 source "
           "records: 1 missing (tolerance 0)")
INCIDENTS = dg.AssetKey(["alerts", "incidents"])


def section(message: dict, prefix: str) -> str:
    [text] = [b["text"]["text"] for b in message["blocks"]
              if b["type"] == "section" and "text" in b and b["text"]["text"].startswith(prefix)]
    return text


def fields(message: dict) -> dict[str, str]:
    [block] = [b for b in message["blocks"] if "fields" in b]
    pairs = (f["text"].split(":* ", 1) for f in block["fields"])
    return {name.lstrip("*"): value for name, value in pairs}


def latest_incidents_view(instance: dg.DagsterInstance) -> dict:
    [record] = instance.fetch_observations(INCIDENTS, limit=1).records
    return {k: v.value for k, v in record.asset_observation.metadata.items()}


def test_failed_reconciliation_check_alerts_once_then_resolves(
        sandboxes, dagster_instance, posted, monkeypatch):
    # A small shop: 24 orders a day (expected volume is not what this test is about).
    monkeypatch.setattr(integration("shopify_to_quickbooks"), "expected_daily_volume", 24)
    env = sandboxes(small_shop())
    daemon = Daemon(env.defs, dagster_instance)
    daemon.arm(*SENSORS)
    assert run(env.defs, dagster_instance).success
    daemon.tick("asset_check_alert_sensor")
    assert posted.all() == []

    # A bookkeeper deletes an invoice; the next read-back fails on its blocking checks.
    Bookkeeper(env.qbo_url).delete("S1002")
    found = run(env.defs, dagster_instance, asset_selection=[INVOICES_KEY])
    assert not found.success
    for _ in range(2):  # every sensor tick sees the failure again: one message per incident
        for name in SENSORS:
            daemon.tick(name)
    messages = posted.all()
    assert sorted(m["text"] for m in messages) == [ONE_INVOICE, RECONCILED, KEEP_UP]
    assert {m["channel_name"] for m in messages} == {CHANNEL}
    [reconciled] = [m for m in messages if m["text"] == RECONCILED]
    assert fields(reconciled) == {"dead_lettered": "1", "discrepancies": "1",
                                  "drift_rate": "0.042", "invoices": "22", "missing": "1",
                                  "ok": "22", "orders": "24"}
    assert section(reconciled, "*Likely cause:*") == (
        "*Likely cause:* missing: deleted_in_destination (1)")
    assert section(reconciled, "*What to do:*").startswith(
        "*What to do:* Launch `shopify_to_quickbooks_repair_job` for 2026-11-06 (first "
        "records: S1002): it re-syncs exactly the discrepant records.")
    assert section(reconciled, "<") == (
        f"<{UI}/runs/{found.run_id}|Open run {found.run_id[:8]}> · "
        f"<{UI}/assets/quickbooks/invoices|Open asset quickbooks/invoices> · "
        "<docs/RUNBOOK.md#check-failure|Runbook: Check failure>")
    view = latest_incidents_view(dagster_instance)
    assert (view["open_incidents"], view["critical"], view["warning"]) == (3, 3, 0)
    assert "invoices_match_shopify_orders failed" in view["open"]

    # The repair job re-syncs the missing invoice and its read-back passes: all clear.
    assert run(env.defs, dagster_instance, job=REPAIR_JOB).success
    for name in SENSORS:
        daemon.tick(name)
    resolved = posted.all()[3:]
    assert sorted(m["text"].split(" (open for")[0] for m in resolved) == [
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Check failure: "
        "every_synced_order_has_one_invoice passes on quickbooks/invoices for 2026-11-06",
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Check failure: "
        "invoices_match_shopify_orders passes on quickbooks/invoices for 2026-11-06",
        ":white_check_mark: RESOLVED shopify_to_quickbooks: Volume: "
        "invoices_keep_up_with_orders passes on quickbooks/invoices for 2026-11-06",
    ]
    by_text = {m["text"]: m["ts"] for m in messages}
    assert {m["thread_ts"] for m in resolved} == set(by_text.values())  # in each thread
    view = latest_incidents_view(dagster_instance)
    assert (view["open_incidents"], view["resolved_last_24h"]) == (0, 3)
    assert view["open"] == "No open incident."
