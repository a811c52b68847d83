"""The demo's first incident, staged the way it happens in a real company.

A green backfill shows syncs and checks, but not why the project exists. So on the first
start of `integrations-pipelines dev`, once the seed backfill has finished, a bookkeeper
"works in QuickBooks" through the sandbox's admin side: deletes one of yesterday's invoices
and changes the total of another, the kind of silent drift nobody notices for months. Then
yesterday's nightly run is launched (as the 02:15 schedule would). Its reconciliation check
finds both discrepancies, fails, and the check-failure sensor posts one alert to the Slack
sandbox with the counts, the likely causes and the runbook link. Launching
`shopify_to_quickbooks_repair_job` for that day repairs the two invoices and the alert's
"resolved" message follows. Meanwhile QuickBooks notifies the receiver of both hand edits
(`books_changed_sensor` launches that day's run on its own too), and the merchant refunds
an order of an earlier day in Shopify: its webhook carries the refund to QuickBooks.

Everything here goes through public interfaces (the webserver's GraphQL API and the
sandbox's HTTP admin API), exactly as a person would in the UIs.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

__all__ = [
    "BACKFILL_STATUS", "FINISHED_RUNS", "JOB", "LAUNCH_RUN", "UNFINISHED", "backfill_progress",
    "bookkeeper_drift", "launch_nightly_run", "log", "merchant_refund", "stage_first_incident",
    "start_in_background", "wait_for_backfill",
]

log = logging.getLogger("integrations_pipelines.dev")

JOB = "shopify_to_quickbooks_job"
UNFINISHED = {"REQUESTED", "CANCELING", "FAILING"}
BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status partitionStatuses { results { runStatus } } }
  }
}"""
FINISHED_RUNS = {"SUCCESS", "FAILURE", "CANCELED"}
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""


def _graphql(ui_url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{ui_url}/graphql", json={"query": query, "variables": variables},
                        timeout=30).raise_for_status().json()
    return answer.get("data") or {}


def backfill_progress(run_statuses: list[str | None]) -> str:
    """One line a person reads: "3 of 7 days done (1 failed), 2 running"."""
    done = sum(status in FINISHED_RUNS for status in run_statuses)
    failed = sum(status == "FAILURE" for status in run_statuses)
    running = sum(status in {"STARTING", "STARTED"} for status in run_statuses)
    return (f"{done} of {len(run_statuses)} days done"
            + (f" ({failed} failed)" if failed else "") + f", {running} running")


def wait_for_backfill(ui_url: str, backfill_id: str, timeout_s: float) -> str:
    """The backfill's final status (or the last one seen when the time is up); its progress
    is logged whenever it changes (the daemon's own lines are not shown by `dev`)."""
    deadline = time.monotonic() + timeout_s
    status, said = "REQUESTED", -1
    while time.monotonic() < deadline:
        found = _graphql(ui_url, BACKFILL_STATUS, {"id": backfill_id})
        backfill = found.get("partitionBackfillOrError") or {}
        status = backfill.get("status") or status
        runs = [r.get("runStatus") for r in
                (backfill.get("partitionStatuses") or {}).get("results") or []]
        done = sum(run in FINISHED_RUNS for run in runs)
        if runs and done != said:  # a line per finished day, not per state change
            log.info("backfill %s: %s", backfill_id, backfill_progress(runs))
            said = done
        if status not in UNFINISHED:
            break
        time.sleep(5)
    return status


def bookkeeper_drift(qbo_url: str, day: str) -> list[str]:
    """Delete one invoice of `day` and raise another's total by 10.00, by hand; returns
    their DocNumbers (deleted first)."""
    admin = httpx.Client(base_url=f"{qbo_url}/_sandbox", timeout=10)
    invoices = sorted(
        (i for i in admin.get("/invoices").raise_for_status().json()["invoices"]
         if i.get("TxnDate") == day and i["_sandbox_status"] == "active"
         and Decimal(str(i["TotalAmt"])) > 0),
        key=lambda i: i.get("DocNumber") or "")
    if len(invoices) < 2:
        return []
    deleted, edited = invoices[0], invoices[1]
    admin.delete(f"/invoices/{deleted['Id']}").raise_for_status()
    new_total = Decimal(str(edited["TotalAmt"])) + Decimal("10.00")
    admin.patch(f"/invoices/{edited['Id']}",
                json={"TotalAmt": float(new_total)}).raise_for_status()
    return [deleted["DocNumber"], edited["DocNumber"]]


def merchant_refund(shop_url: str, day: str) -> dict[str, Any] | None:
    """Refund 5.00 of one paid order created on `day`, as the merchant would in Shopify's
    admin; returns the order, or None if there is none."""
    admin = httpx.Client(base_url=f"{shop_url}/_sandbox", timeout=10)
    paid = sorted((o for o in admin.get("/orders").raise_for_status().json()["orders"]
                   if o["created_at"][:10] == day and o.get("financial_status") == "paid"
                   and Decimal(o["current_total_price"]) > 10 and not o.get("test")),
                  key=lambda o: o["id"])
    if not paid:
        return None
    order: dict[str, Any] = paid[0]
    admin.post(f"/orders/{order['id']}/refund",
               json={"amount": "5.00", "note": "demo: a refund days later"}).raise_for_status()
    return order


def launch_nightly_run(ui_url: str, day: str) -> str:
    params = {
        "selector": {"repositoryLocationName": "integrations_pipelines",
                     "repositoryName": "__repository__", "jobName": JOB},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        "runConfigData": {},
    }
    result = _graphql(ui_url, LAUNCH_RUN, {"params": params}).get("launchRun") or {}
    if result.get("__typename") != "LaunchRunSuccess":
        raise RuntimeError(f"could not launch the nightly run for {day}: {result}")
    run_id: str = result["run"]["runId"]
    return run_id


def stage_first_incident(ui_url: str, qbo_url: str, backfill_id: str, day: str,
                         slack_page_url: str, shop_url: str | None = None,
                         timeout_s: float = 1800) -> None:
    """Wait for the seed backfill, drift the books, run the night of `day`, then refund an
    order of an earlier day in Shopify (its webhook carries it to QuickBooks); log each
    step."""
    status = wait_for_backfill(ui_url, backfill_id, timeout_s)
    if status in UNFINISHED:
        log.warning("demo: the seed backfill is still %s; no incident staged", status)
        return
    docs = bookkeeper_drift(qbo_url, day)
    if not docs:
        log.warning("demo: no invoices of %s to drift; no incident staged", day)
        return
    run_id = launch_nightly_run(ui_url, day)
    log.info("demo: a bookkeeper deleted invoice %s and changed the total of %s in "
             "QuickBooks; the nightly run of %s (%s) will find both and alert: see %s, then "
             "launch shopify_to_quickbooks_repair_job for %s in the UI to repair them",
             docs[0], docs[1], day, f"{ui_url}/runs/{run_id}", slack_page_url, day)
    if shop_url is None:
        return
    earlier = (date.fromisoformat(day) - timedelta(days=2)).isoformat()
    order = merchant_refund(shop_url, earlier)
    if order is not None:
        log.info("demo: the merchant refunded 5.00 of order %s (%s) in Shopify; its webhook "
                 "reaches the receiver at once and shopify_to_quickbooks_webhooks_job updates "
                 "invoice S%s within a minute: see %s/assets/shopify_to_quickbooks/"
                 "webhook_deliveries", order["name"], earlier, order["order_number"], ui_url)


def start_in_background(ui_url: str, qbo_url: str, backfill_id: str, day: str,
                        slack_page_url: str, shop_url: str | None = None) -> threading.Thread:
    """`stage_first_incident` in a daemon thread, so `dev` keeps serving meanwhile."""

    def guarded() -> None:
        try:
            stage_first_incident(ui_url, qbo_url, backfill_id, day, slack_page_url, shop_url)
        except (httpx.HTTPError, RuntimeError, KeyError) as exc:
            log.warning("demo: could not stage the first incident (%s)", exc)

    thread = threading.Thread(target=guarded, name="demo-incident", daemon=True)
    thread.start()
    return thread
