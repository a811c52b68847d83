"""The chaos rig: one small shop, both sandboxes with faults, the flagship job through Dagster,
and the promises every scenario must keep.

After every run, whatever was injected:
- no duplicate: no DocNumber has two invoices in QuickBooks (voided or not);
- no loss: a green run leaves every order of the day synced (exactly one invoice with its
  DocNumber "S<order_number>", the ledger pointing at it) or dead-lettered with a reason, and
  every blocking (ERROR) check passed;
- no silence: a run that is not green failed a step or a check whose message names the
  cause the scenario injected.
Then the faults are cleared (the "fix") and the day is run again: it must be green and
complete, still without a duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.state.tables import dead_letters, sync_ledger
from integrations_pipelines.vendors.oauth import OAuthApp, TokenManager
from integrations_pipelines_tests.support import definitions_for, run_partition, sandbox_resources

DAY = date(2026, 11, 4)
FAST_QUICKBOOKS = {"per_second": 1000, "per_minute": 100000}
# A small shop is below the catalog's expected daily volume by design: that warning is true
# and expected here, and not what the chaos suite is about.
SMALL_SHOP_WARNINGS = {"shopify/orders:order_volume_matches_baseline"}


def shop(seed: int, orders: int = 24) -> list[dict[str, Any]]:
    """A small shop: one day of orders (with the generator's edge cases at their odds)."""
    return generate_shop(seed=seed, start=DAY, days=1, orders_per_day=orders)


@dataclass
class Outcome:
    """What one run did, as the scenario judges it."""

    success: bool
    failures: list[str]  # failed steps' errors and failed checks, with their descriptions
    failed_checks: dict[str, str]  # "asset/check" -> severity of the failed ones

    def names(self, pattern: str) -> bool:
        return any(re.search(pattern, text, re.IGNORECASE | re.DOTALL)
                   for text in self.failures)


@dataclass
class Rig:
    """One day of one shop, both sandboxes and the integration store, ready to run."""

    database_url: str
    engine: sa.Engine
    instance: dg.DagsterInstance
    shop_server: Any
    shop: Any
    qbo_server: Any
    books: Any
    orders: list[dict[str, Any]]
    retry: dict[str, dict[str, Any]] = field(default_factory=dict)  # vendor -> budget

    def definitions(self) -> dg.Definitions:
        return definitions_for(sandbox_resources(
            self.database_url, self.shop_server.url, self.shop.access_token,
            self.qbo_server.url, self.books, retry=self.retry))

    def run(self) -> Outcome:
        result = run_partition(self.definitions(), self.instance, DAY.isoformat(),
                               raise_on_error=False)
        failures = []
        for event in result.get_step_failure_events():
            data = event.step_failure_data
            text = data.error.message if data.error else ""
            if data.user_failure_data is not None:
                text += f" {data.user_failure_data.description or ''} " + " ".join(
                    f"{k}={getattr(v, 'value', v)}"
                    for k, v in data.user_failure_data.metadata.items())
            failures.append(f"step {event.step_key}: {text}")
        failed_checks = {}
        for evaluation in result.get_asset_check_evaluations():
            key = f"{'/'.join(evaluation.asset_key.path)}:{evaluation.check_name}"
            if not evaluation.passed and key not in SMALL_SHOP_WARNINGS:
                failed_checks[key] = evaluation.severity.value
                metadata = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
                failures.append(f"check {key}: {evaluation.description or ''} {metadata}")
        return Outcome(result.success, failures, failed_checks)

    def clear_faults(self) -> None:
        """The fix: every vendor behaves again (what is in the books stays)."""
        self.shop.faults.reset()
        self.books.faults.reset()
        self.books.update_settings(FAST_QUICKBOOKS)
        self.retry.clear()

    def reconnect_quickbooks(self) -> None:
        """What a person does after a revocation: consent again and store the new token
        (as `integrations-pipelines tokens set quickbooks:<realm>` does)."""
        issued = self.books.tokens.issue()
        manager = TokenManager(self.engine, OAuthApp(f"quickbooks:{self.books.realm_id}", "",
                                                     "", ""), http=None)  # type: ignore[arg-type]
        manager.store_refresh_token(issued["refresh_token"])

    # -- the promises ------------------------------------------------------------------
    def invoices_by_doc(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for invoice in self.books.all_invoices():
            if invoice["_sandbox_status"] != "deleted":
                found.setdefault(invoice.get("DocNumber") or "", []).append(invoice)
        return found

    def assert_no_duplicate(self) -> None:
        twice = {doc: [i["Id"] for i in found]
                 for doc, found in self.invoices_by_doc().items() if len(found) > 1}
        assert not twice, f"duplicate invoices: {twice}"

    def missing(self) -> list[str]:
        """Orders of the day neither synced (one invoice, ledger agrees), nor skipped by
        policy without an invoice, nor dead-lettered."""
        by_doc = self.invoices_by_doc()
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.select(sync_ledger)))
            ledger = {r.source_id: r.destination_id for r in rows}
            skipped = {r.source_id for r in rows if r.status == "skipped"}  # test orders
            letters = {r.source_id: r.reason for r in conn.execute(
                sa.select(dead_letters).where(dead_letters.c.resolved_at.is_(None)))}
        lost = []
        for order in self.orders:
            key, doc = str(order["id"]), f"S{order['order_number']}"
            synced = [i["Id"] for i in by_doc.get(doc, [])] == [ledger.get(key)]
            settled = key in skipped and doc not in by_doc
            if not synced and not settled and not (letters.get(key) or "").strip():
                lost.append(doc)
        return lost

    def judge(self, outcome: Outcome, cause: str | None) -> None:
        """The promises of one run; `cause` is the pattern a failure must name (None: the
        run must be green)."""
        self.assert_no_duplicate()
        if outcome.success:
            errors = {k for k, severity in outcome.failed_checks.items() if severity == "ERROR"}
            assert not errors, f"green run with failed ERROR checks: {outcome.failures}"
            assert not self.missing(), f"green run with missing orders: {self.missing()}"
            return
        assert cause is not None, f"run failed without an injected cause: {outcome.failures}"
        assert outcome.names(cause), f"failure does not name {cause!r}: {outcome.failures}"

    def recover(self) -> Outcome:
        """Clear the faults, run the day again: green, complete, no duplicate."""
        self.clear_faults()
        outcome = self.run()
        assert outcome.success, outcome.failures
        self.judge(outcome, None)
        return outcome
