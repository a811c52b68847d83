"""One writer per order: two processes sync the same day at once, while orders change between
their extracts (one process holds the day as it was, the other after refunds and
cancellations). Every time, each order ends with exactly one invoice, and it shows the newer
version: the older one never overwrites it."""

from __future__ import annotations

import copy
import multiprocessing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.sandbox.shopify_orders import apply_cancel, apply_refund
from integrations_pipelines.settings import QuickBooksSettings
from integrations_pipelines.state.tables import sync_ledger
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.quickbooks.client import connect
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines_tests.builders import UNMAPPABLE_EDGES, clean_orders
from integrations_pipelines_tests.support import sandbox_quickbooks_settings

# Two sync processes at once (spawned), three times.
pytestmark = pytest.mark.slow

DAY = date(2026, 11, 3)
INTEGRATION = integration("shopify_to_quickbooks")


def _sync_in_a_process(database_url: str, settings: QuickBooksSettings,
                       orders: list[dict[str, Any]], start: Any, done: Any) -> None:
    """A separate sync process (a second Dagster run), started at the same moment."""
    engine = sa.create_engine(database_url)
    qbo = connect(settings, engine, contracts=ContractGuard(engine))
    start.wait(30)
    with qbo.http:
        outcome = InvoiceSync(engine, qbo, INTEGRATION).run(
            (Order.model_validate(o), o) for o in orders)
    done.put((outcome.created, outcome.updated, outcome.voided, outcome.stale_skipped))
    engine.dispose()


def _later(orders: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The same day after the merchant refunded some orders and cancelled others."""
    changed = copy.deepcopy(orders)
    at = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    for index, order in enumerate(changed):
        if (index + seed) % 3 == 0 and order["line_items"]:
            line = order["line_items"][0]
            apply_refund(order, at=at, refund_id=9000 + index, transaction_id=9500 + index,
                         lines=[(line["id"], 1)])
        elif (index + seed) % 5 == 1:
            apply_cancel(order, at=at, refund_id=9000 + index, transaction_id=9500 + index)
    return changed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_processes_syncing_one_day_leave_one_current_invoice_per_order(
        seed, database_url, engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    before = clean_orders(seed, DAY, 30, without=UNMAPPABLE_EDGES | {"test_order"})
    after = _later(before, seed)
    settings = sandbox_quickbooks_settings(server, books)
    spawn = multiprocessing.get_context("spawn")
    start, done = spawn.Event(), spawn.Queue()
    workers = [spawn.Process(target=_sync_in_a_process,
                             args=(database_url, settings, version, start, done))
               for version in (before, after)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    results = [done.get(timeout=5) for _ in workers]

    live = [i for i in books.all_invoices() if i["_sandbox_status"] != "deleted"]
    by_doc: dict[str, list[dict]] = {}
    for invoice in live:
        by_doc.setdefault(invoice["DocNumber"], []).append(invoice)
    assert {doc: len(found) for doc, found in by_doc.items() if len(found) > 1} == {}
    with engine.connect() as conn:
        ledger = {r.source_id: r for r in conn.execute(sa.select(sync_ledger))}
    for order in after:
        [invoice] = by_doc[f"S{order['order_number']}"]
        assert ledger[str(order["id"])].destination_id == invoice["Id"]
        if order["cancelled_at"]:
            assert invoice["PrivateNote"].startswith("Voided"), order["name"]
            continue
        now = Decimal(order["current_total_price_set"]["presentment_money"]["amount"])
        assert Decimal(str(invoice["TotalAmt"])) == now, (order["name"], results)
