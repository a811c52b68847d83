"""Drift as a real vendor's data drifts: a bookkeeper's edits in QuickBooks and a merchant's in
Shopify, made through the sandboxes' admin HTTP endpoints (`/_sandbox/...`), never by reaching
into the project's own state. Shared by the reconciliation tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg
import httpx

from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines_tests.support import JOB

DAY = date(2026, 11, 6)
CHECK = "invoices_match_shopify_orders"
REPAIR_JOB = "shopify_to_quickbooks_repair_job"
SAMPLE_JOB = "shopify_to_quickbooks_reconciliation_sample_job"
ORDERS_KEY = dg.AssetKey(["shopify", "orders"])
INVOICES_KEY = dg.AssetKey(["quickbooks", "invoices"])
REPAIR_NODE = "quickbooks__invoices"  # the read-back, run with repair: true
UNMAPPABLE = 1016  # its line items are removed: dead-lettered by the mapping
LATE = 1024  # arrives in Shopify only after the first sync


def small_shop() -> list[dict[str, Any]]:
    """24 orders of one day (seed 3: plain, multi-currency and partially refunded ones);
    one of them has no line items, so the mapping dead-letters it."""
    orders = generate_shop(seed=3, start=DAY, days=1, orders_per_day=24)
    for order in orders:
        if order["order_number"] == UNMAPPABLE:
            order["line_items"] = []
            order["tags"] = "edge:no_line_items"
    return orders


def by_number(orders: list[dict[str, Any]], number: int) -> dict[str, Any]:
    return next(o for o in orders if o["order_number"] == number)


class Bookkeeper:
    """A person editing the QuickBooks company by hand (the sandbox's admin side)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/_sandbox", timeout=10)

    def invoices(self) -> list[dict[str, Any]]:
        """Every invoice, with `_sandbox_status` active, voided or deleted."""
        return self.http.get("/invoices").raise_for_status().json()["invoices"]

    def invoice(self, doc_number: str) -> dict[str, Any]:
        [found] = [i for i in self.invoices()
                   if i.get("DocNumber") == doc_number and i["_sandbox_status"] != "deleted"]
        return found

    def delete(self, doc_number: str) -> str:
        ident = self.invoice(doc_number)["Id"]
        assert self.http.delete(f"/invoices/{ident}").raise_for_status().json()["deleted"]
        return ident

    def edit(self, doc_number: str, changes: dict[str, Any]) -> str:
        ident = self.invoice(doc_number)["Id"]
        self.http.patch(f"/invoices/{ident}", json=changes).raise_for_status()
        return ident

    def copy(self, doc_number: str, **changes: Any) -> str:
        """A second invoice made from an existing one (a retried create, or a template)."""
        body = {k: v for k, v in self.invoice(doc_number).items()
                if k not in ("Id", "SyncToken", "MetaData", "_sandbox_status")}
        made = self.http.post("/invoices", json=body | changes).raise_for_status().json()
        return made["Invoice"]["Id"]


class Merchant:
    """A person working in the Shopify admin (the sandbox's admin side)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}/_sandbox", timeout=10)

    def add(self, order: dict[str, Any]) -> None:
        self.http.post("/orders", json={"orders": [order]}).raise_for_status()

    def refund(self, order_id: int, amount: str, at: str) -> None:
        self.http.post(f"/orders/{order_id}/refund",
                       json={"amount": amount, "at": at}).raise_for_status()


def evaluation(result: dg.ExecuteInProcessResult, name: str = CHECK) -> Any:
    """The one evaluation of a check in a run."""
    [found] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return found


def counts(evaluation: Any) -> dict[str, int]:
    names = ("missing", "extra", "duplicate", "stale", "wrong_values", "ok", "dead_lettered")
    return {n: evaluation.metadata[n].value for n in names}


def keys(evaluation: Any) -> dict[str, list[str]]:
    return {c: ks for c, ks in evaluation.metadata["discrepant_keys"].value.items() if ks}


def causes(evaluation: Any) -> set[tuple[str, str, int]]:
    return {(c["class"], c["cause_code"], c["keys"])
            for c in evaluation.metadata["causes"].value}


def run(defs: dg.Definitions, instance: dg.DagsterInstance, job: str = JOB,
        **kwargs: Any) -> dg.ExecuteInProcessResult:
    """One run of a job for the test's day; failures are returned, not raised."""
    return defs.resolve_job_def(job).execute_in_process(
        partition_key=DAY.isoformat(), instance=instance, raise_on_error=False, **kwargs)
