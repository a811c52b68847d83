"""The flagship promise end to end: a 500-order shop over 5 days, synced day by day through
Dagster on PostgreSQL against both sandboxes; every order is an invoice that matches or a
dead letter with a reason (or a test order, skipped and counted); running every partition
again changes nothing in QuickBooks."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from integrations_pipelines.sandbox.shop_generator import MONEY_SHAPES, edge_tags, generate_shop
from integrations_pipelines.state.tables import dead_letters, sync_ledger
from integrations_pipelines_tests.support import (
    definitions_for,
    run_partition,
    sandbox_resources,
)

# Five days of 100 orders a day through the whole Dagster job.
pytestmark = pytest.mark.slow

START = date(2026, 11, 1)
DAYS = 5
# Every check the nightly job runs: the step promises, reconciliation, contract drift and
# the dead-man's switches on volume.
JOB_CHECKS = {
    "shopify/orders:orders_conform_to_contract",
    "shopify/orders:no_contract_drift",
    "shopify/orders:order_volume_matches_baseline",
    "shopify/orders:shopify_api_version_is_current",
    "shopify_to_quickbooks/invoice_sync:every_order_synced_or_dead_lettered",
    "shopify_to_quickbooks/invoice_sync:doc_numbers_free_of_foreign_invoices",
    "quickbooks/invoices:every_synced_order_has_one_invoice",
    "quickbooks/invoices:invoices_match_shopify_orders",
    "quickbooks/invoices:no_contract_drift",
    "quickbooks/invoices:invoices_keep_up_with_orders",
}
UNMAPPABLE = {"no_line_items": "no_line_items", "discount_exceeds_total": "discount_exceeds_total"}


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def expected_invoice(order: dict) -> dict:
    """What the invoice must say, straight from Shopify's own statement of the order now."""
    pres = order["presentment_currency"]
    customer = order.get("customer")
    voided = order.get("cancelled_at") is not None
    return {
        "currency": pres,
        "total": Decimal(0) if voided else _money(
            order["current_total_price_set"]["presentment_money"]["amount"]),
        "tax": Decimal(0) if voided else _money(
            order["current_total_tax_set"]["presentment_money"]["amount"]),
        "customer_tag": f"[shopify:{customer['id'] if customer else 'guest'}:{pres}]",
        "voided": voided,
    }


def actual_invoice(invoice: dict, customers: dict[str, dict]) -> dict:
    """What QuickBooks computed and holds (TotalAmt and TotalTax are its own figures)."""
    customer = customers[invoice["CustomerRef"]["value"]]
    assert customer["CurrencyRef"]["value"] == invoice["CurrencyRef"]["value"]
    return {
        "currency": invoice["CurrencyRef"]["value"],
        "total": _money(invoice["TotalAmt"]),
        "tax": _money(invoice["TxnTaxDetail"]["TotalTax"]),
        "customer_tag": customer["DisplayName"][customer["DisplayName"].rindex("["):],
        "voided": invoice["PrivateNote"].startswith("Voided"),
    }


def test_five_days_of_orders_end_as_matching_invoices_or_dead_letters(
        database_url, engine, dagster_instance, shop_sandbox, qbo_sandbox):
    orders = generate_shop(seed=11, start=START, days=DAYS, orders_per_day=100)
    assert len(orders) >= 500
    shop_server, shop = shop_sandbox(orders)
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})  # not a throttling test
    defs = definitions_for(sandbox_resources(database_url, shop_server.url, shop.access_token,
                                             qbo_server.url, books))
    days = [(START + timedelta(days=n)).isoformat() for n in range(DAYS)]
    for day in days:
        result = run_partition(defs, dagster_instance, day)
        assert result.success
        checks = {f"{'/'.join(c.asset_key.path)}:{c.check_name}": c.passed
                  for c in result.get_asset_check_evaluations()}
        assert checks == dict.fromkeys(JOB_CHECKS, True), checks

    invoices = [i for i in books.all_invoices() if i["_sandbox_status"] != "deleted"]
    by_doc: dict[str, list[dict]] = {}
    for inv in invoices:
        by_doc.setdefault(inv["DocNumber"], []).append(inv)
    customers = {c["Id"]: c for c in books.all_customers()}
    with engine.connect() as conn:
        letters = {r.source_id: r for r in conn.execute(
            sa.select(dead_letters).where(dead_letters.c.resolved_at.is_(None)))}
        ledger = {r.source_id: r for r in conn.execute(sa.select(sync_ledger))}

    matched = skipped = 0
    for order in orders:
        key, doc = str(order["id"]), f"S{order['order_number']}"
        unmappable = edge_tags(order) & set(UNMAPPABLE)
        if unmappable:
            assert key in letters and letters[key].reason_code in unmappable, order["name"]
            assert letters[key].reason and letters[key].payload["id"] == order["id"]
            assert doc not in by_doc
            continue
        assert key not in letters, (order["name"], letters.get(key))
        if order["test"]:  # skipped by the catalog's test-order policy, and counted
            assert ledger[key].status == "skipped" and doc not in by_doc, order["name"]
            skipped += 1
            continue
        assert len(by_doc.get(doc, [])) == 1, f"{doc}: {len(by_doc.get(doc, []))} invoices"
        invoice = by_doc[doc][0]
        assert ledger[key].destination_id == invoice["Id"]
        expected = expected_invoice(order)
        if expected["voided"]:
            assert actual_invoice(invoice, customers)["voided"], doc
            assert _money(invoice["TotalAmt"]) == 0
        else:
            assert actual_invoice(invoice, customers) == expected, doc
        matched += 1
    assert matched + skipped + len(letters) == len(orders) and skipped
    seen = {edge for o in orders for edge in edge_tags(o)}
    assert seen >= set(UNMAPPABLE) | set(MONEY_SHAPES)

    # Every partition again: QuickBooks must not change at all.
    before = {i["Id"]: (i["SyncToken"], i["_sandbox_status"]) for i in books.all_invoices()}
    customers_before = len(books.all_customers())
    for day in days:
        result = run_partition(defs, dagster_instance, day)
        node = "shopify_to_quickbooks__invoice_sync"
        sync = result.asset_materializations_for_node(node)[0].metadata
        assert sync["invoices_created"].value == 0 and sync["invoices_updated"].value == 0
        assert sync["invoices_voided"].value == 0
    after = {i["Id"]: (i["SyncToken"], i["_sandbox_status"]) for i in books.all_invoices()}
    assert after == before and len(books.all_customers()) == customers_before
