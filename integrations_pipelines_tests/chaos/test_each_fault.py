"""The flagship sync under each fault, one at a time.

Each scenario names its faults (set when the sandboxes start) and what the run must do: stay
green and complete (the fault is one the client absorbs: retries, pacing, token refresh,
pagination), or fail naming its cause (the fault cannot be absorbed: the vendor's contract
changed, credentials are dead, the outage outlasts the retry budget). Either way no order is
lost and no invoice duplicated; after the fix the same day runs green and complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from integrations_pipelines.state.tables import contract_observations

# A small retry budget, so an outage outlasts it in about a second.
# Every fault, each in its own end-to-end Dagster run against the sandboxes.
pytestmark = pytest.mark.slow

SHORT_RETRIES = {"retry_max_attempts": 3, "retry_max_elapsed_s": 5.0}


@dataclass(frozen=True)
class Scenario:
    name: str
    shopify: dict[str, Any] = field(default_factory=dict)
    quickbooks: dict[str, Any] = field(default_factory=dict)
    quickbooks_settings: dict[str, Any] = field(default_factory=dict)
    retry: dict[str, dict[str, Any]] = field(default_factory=dict)
    cause: str | None = None  # None: the run must be green; else what the failure names


RECOVERABLE = [
    Scenario("shopify_5xx", shopify={"error_rate_5xx": 0.3,
                                     "schema_drift": {"page_size_cap": 5}}),
    Scenario("quickbooks_5xx", quickbooks={"error_rate_5xx": 0.2}),
    Scenario("connection_resets", shopify={"connection_reset_rate": 0.2,
                                           "schema_drift": {"page_size_cap": 5}},
             quickbooks={"connection_reset_rate": 0.1}),
    Scenario("latency", shopify={"latency_ms": 40}, quickbooks={"latency_ms": 20}),
    Scenario("shopify_429_storm", shopify={"rate_limit_storm": 2}),
    Scenario("quickbooks_429_storm", quickbooks={"rate_limit_storm": 6}),
    Scenario("quickbooks_rate_limit", quickbooks_settings={"per_second": 10,
                                                           "per_minute": 500}),
    Scenario("write_answer_lost", quickbooks={"drop_response_after_write": True}),
    Scenario("access_token_expires_early", quickbooks={"expire_access_token_every": 7}),
    Scenario("shopify_page_size_cap", shopify={"schema_drift": {"page_size_cap": 4}}),
    Scenario("quickbooks_page_size_cap", quickbooks={"schema_drift": {"page_size_cap": 4}}),
    Scenario("optional_field_disappears", shopify={"schema_drift": {"drop_field": "email"}}),
]

UNRECOVERABLE = [
    Scenario("total_price_becomes_object",
             shopify={"schema_drift": {"total_price_as_object": True}},
             cause=r"contract changed.*Order\.total_price.*contract_observations id \d+"),
    Scenario("required_field_disappears",
             shopify={"schema_drift": {"drop_field": "line_items[].price_set"}},
             cause=r"contract changed.*Order\.line_items\[\]\.price_set \(missing"),
    Scenario("quickbooks_amounts_become_strings",
             quickbooks={"schema_drift": {"amounts_as_strings": True}},
             cause=r"contract changed.*Invoice\.TotalAmt"),
    Scenario("shopify_outage", shopify={"error_rate_5xx": 1.0},
             retry={"shopify": SHORT_RETRIES},
             cause=r"shopify.*still failing after retries.*HTTP 5\d\d"),
    Scenario("quickbooks_outage", quickbooks={"error_rate_5xx": 1.0},
             retry={"quickbooks": SHORT_RETRIES},
             cause=r"quickbooks.*still failing after retries.*HTTP 5\d\d"),
    Scenario("shopify_credentials_revoked", shopify={"credentials_revoked": True},
             cause=r"shopify orders\.list HTTP 401"),
]


@pytest.mark.parametrize("scenario", RECOVERABLE, ids=lambda s: s.name)
def test_absorbed_fault_keeps_the_run_green_and_complete(chaos_rig, scenario: Scenario) -> None:
    rig = chaos_rig(len(scenario.name), shopify_faults=scenario.shopify,
                    quickbooks_faults=scenario.quickbooks,
                    quickbooks_settings=scenario.quickbooks_settings)
    outcome = rig.run()
    assert outcome.success, outcome.failures
    rig.judge(outcome, None)
    assert not outcome.failed_checks, outcome.failures
    rig.recover()


@pytest.mark.parametrize("scenario", UNRECOVERABLE, ids=lambda s: s.name)
def test_unabsorbable_fault_fails_the_run_naming_its_cause(chaos_rig, scenario: Scenario) -> None:
    rig = chaos_rig(len(scenario.name), shopify_faults=scenario.shopify,
                    quickbooks_faults=scenario.quickbooks, retry=scenario.retry)
    outcome = rig.run()
    assert not outcome.success
    rig.judge(outcome, scenario.cause)
    rig.recover()


def test_quickbooks_credentials_revoked_fail_loudly_until_reconnected(chaos_rig) -> None:
    rig = chaos_rig(17, quickbooks_faults={"credentials_revoked": True})
    outcome = rig.run()
    rig.judge(outcome, r"credentials dead.*quickbooks:\d+.*re-authorize")
    assert not outcome.success
    rig.clear_faults()
    again = rig.run()  # the knob is off, but revoked tokens stay dead: still loud
    rig.judge(again, r"credentials dead.*rejected earlier")
    assert not again.success
    rig.reconnect_quickbooks()
    rig.recover()


def test_new_fields_warn_without_failing(chaos_rig) -> None:
    rig = chaos_rig(23, shopify_faults={"schema_drift": {
        "add_fields": {"loyalty_tier": "gold", "line_items[].gift_wrap": False}}},
        quickbooks_faults={"schema_drift": {"add_fields": {"EInvoiceStatus": "Sent"}}})
    outcome = rig.run()
    rig.judge(outcome, None)
    assert outcome.success
    assert outcome.failed_checks == {"shopify/orders:no_contract_drift": "WARN",
                                     "quickbooks/invoices:no_contract_drift": "WARN"}
    assert outcome.names(r"no_contract_drift.*Order\.line_items\[\]\.gift_wrap")
    assert outcome.names(r"no_contract_drift.*Invoice\.EInvoiceStatus")
    with rig.engine.connect() as conn:
        drift = {(r.vendor, r.field_path) for r in conn.execute(
            sa.select(contract_observations).where(
                contract_observations.c.kind == "unknown_field"))}
    assert drift == {("shopify", "loyalty_tier"), ("shopify", "line_items[].gift_wrap"),
                     ("quickbooks", "EInvoiceStatus")}
    assert not rig.recover().failed_checks  # drift gone: the checks pass again
