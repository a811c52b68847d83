"""Orders change after they were synced: a refund updates the invoice, a cancellation voids
it, an edit updates it, and a stale version of an order never overwrites a newer one."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest

from integrations_pipelines.catalog import integration
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines_tests.builders import clean_orders
from integrations_pipelines_tests.support import (
    definitions_for,
    live_invoice,
    run_partition,
    sandbox_resources,
)

# The whole Dagster job, twice, against the sandboxes.
pytestmark = pytest.mark.slow

DAY = date(2026, 11, 4)
SYNC_NODE = "shopify_to_quickbooks__invoice_sync"


def test_refund_cancel_edit_and_stale_version(database_url, engine, dagster_instance,
                                              shop_sandbox, qbo_sandbox):
    orders = clean_orders(8, DAY, 30, paid=True, count=3)
    assert len(orders) == 3
    refunded, cancelled, edited = orders
    shop_server, shop = shop_sandbox(orders)
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    resources = sandbox_resources(database_url, shop_server.url, shop.access_token,
                                  qbo_server.url, books)
    defs = definitions_for(resources)
    assert run_partition(defs, dagster_instance, DAY.isoformat()).success
    docs = {o["id"]: f"S{o['order_number']}" for o in orders}
    before = {oid: live_invoice(books, doc) for oid, doc in docs.items()}
    stale_payload = copy.deepcopy(shop.get_order(refunded["id"]))

    shop.refund_order(refunded["id"], "5.00", at="2026-11-05T10:00:00Z")
    shop.cancel_order(cancelled["id"], at="2026-11-05T11:00:00Z")
    shop.patch_order(edited["id"], {"email": "new.address@example.com"},
                     at="2026-11-05T12:00:00Z")
    result = run_partition(defs, dagster_instance, DAY.isoformat())
    sync = result.asset_materializations_for_node(SYNC_NODE)[0].metadata
    assert (sync["invoices_updated"].value, sync["invoices_voided"].value,
            sync["invoices_created"].value) == (2, 1, 0)

    after = {oid: live_invoice(books, doc) for oid, doc in docs.items()}
    assert {i["Id"] for i in after.values()} == {i["Id"] for i in before.values()}
    # Shopify's own statement of the order after the refund is what the books now say.
    now = shop.get_order(refunded["id"])["current_total_price_set"]["presentment_money"]
    assert Decimal(str(after[refunded["id"]]["TotalAmt"])) == Decimal(now["amount"]) < (
        Decimal(str(before[refunded["id"]]["TotalAmt"])))
    assert after[cancelled["id"]]["PrivateNote"].startswith("Voided")
    assert Decimal(str(after[cancelled["id"]]["TotalAmt"])) == 0
    assert after[edited["id"]]["BillEmail"]["Address"] == "new.address@example.com"

    # A late, older copy of the refunded order (a retried webhook, a lagging replica).
    qbo = resources["quickbooks"].client(HttpMetrics(), resources["store"], "stale-test")
    with qbo.http:
        outcome = InvoiceSync(engine, qbo, integration("shopify_to_quickbooks")).run(
            [(Order.model_validate(stale_payload), stale_payload)])
    assert outcome.stale_skipped == 1 and outcome.updated == 0
    assert live_invoice(books, docs[refunded["id"]])["SyncToken"] == (
        after[refunded["id"]]["SyncToken"])
