"""Real orders: one bad order never blocks the day, an invoice we did not write is never
overwritten, and a broken mapping is caught by the independent reconciliation."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.mapping.shopify_to_quickbooks import InvoiceDraft, map_order
from integrations_pipelines.reconciliation.shopify_to_quickbooks import load_window
from integrations_pipelines.reconciliation.window import reconcile_window
from integrations_pipelines.sandbox.shop_generator import edge_tags, generate_shop
from integrations_pipelines.state import raw
from integrations_pipelines.state.payloads import ESCAPED_KEY
from integrations_pipelines.state.tables import dead_letters
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.quickbooks.client import connect
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, order_record
from integrations_pipelines_tests.builders import booked_invoice
from integrations_pipelines_tests.support import (
    definitions_for,
    run_partition,
    sandbox_quickbooks_settings,
    sandbox_resources,
)

DAY = date(2026, 11, 3)
INTEGRATION = integration("shopify_to_quickbooks")
UK = INTEGRATION.model_copy(update={"quickbooks": INTEGRATION.quickbooks.model_copy(update={
    "country": "GB", "tax_codes": {"0.2": "2", "0.05": "3"}, "untaxed_tax_code_id": "4",
    "sales_tax_code_id": None})})
UK_COMPANY = {"country": "GB", "home_currency": "GBP",
              "tax_codes": {"2": "0.20", "3": "0.05", "4": "0"}}
SYNC_NODE = "shopify_to_quickbooks__invoice_sync"


def plain_orders(count: int) -> list[dict]:
    orders = [o for o in generate_shop(seed=5, start=DAY, days=1, orders_per_day=40)
              if not edge_tags(o)]
    assert len(orders) >= count
    return orders[:count]


def letters(engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.source_id: r for r in conn.execute(sa.select(dead_letters))}


def test_one_invalid_and_one_unstorable_order_do_not_block_the_other_eight(
        database_url, engine, dagster_instance, shop_sandbox, qbo_sandbox) -> None:
    orders = plain_orders(10)
    orders[2]["total_price"] = 12.5  # a number where Shopify sends a string: invalid
    orders[5]["note"] = "gift\u0000wrap"  # JSONB cannot hold U+0000
    shop_server, shop = shop_sandbox(orders)
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    defs = definitions_for(sandbox_resources(database_url, shop_server.url, shop.access_token,
                                             qbo_server.url, books))
    result = run_partition(defs, dagster_instance, DAY.isoformat())
    assert result.success
    sync = result.asset_materializations_for_node(SYNC_NODE)[0].metadata
    assert sync["invoices_created"].value == 8
    found = letters(engine)
    invalid, unstorable = found[str(orders[2]["id"])], found[str(orders[5]["id"])]
    assert invalid.reason_code == "contract_violation" and "total_price" in invalid.reason
    assert invalid.payload["id"] == orders[2]["id"]
    assert unstorable.reason_code == "unstorable_payload"
    assert json.loads(unstorable.payload[ESCAPED_KEY])["note"] == "gift\u0000wrap"
    contract = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not contract["orders_conform_to_contract"].passed  # warned, did not block
    docs = {i["DocNumber"] for i in books.all_invoices()}
    assert f"S{orders[2]['order_number']}" not in docs and len(docs) == 8


def _sync(engine, books, server, orders, where=INTEGRATION, mapper=map_order):
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    qbo = connect(sandbox_quickbooks_settings(server, books), engine,
                  contracts=ContractGuard(engine))
    with qbo.http:
        return InvoiceSync(engine, qbo, where, mapper).run(
            (Order.model_validate(o), o) for o in orders)


def test_an_invoice_with_our_doc_number_that_we_did_not_write_is_a_conflict(
        engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    orders = plain_orders(2)
    doc = f"S{orders[0]['order_number']}"
    foreign = books.insert_invoice_raw(booked_invoice(
        doc, 99.0, TxnDate=DAY.isoformat(), SyncToken="0",
        CustomerRef={"value": "1", "name": "Legacy Customer"}, Line=[],
        PrivateNote="entered by hand"))
    outcome = _sync(engine, books, server, orders)
    assert (outcome.conflicts, outcome.created) == (1, 1)
    letter = letters(engine)[str(orders[0]["id"])]
    assert letter.reason_code == "destination_conflict"
    assert "Legacy Customer" in letter.reason and str(orders[0]["id"]) in letter.reason
    untouched = next(i for i in books.all_invoices() if i["Id"] == foreign["Id"])
    assert untouched["TotalAmt"] == 99.0 and untouched["SyncToken"] == "0"

    adopting = INTEGRATION.model_copy(update={"quickbooks": INTEGRATION.quickbooks.model_copy(
        update={"existing_invoices": "adopt"})})
    outcome = _sync(engine, books, server, orders, adopting)
    assert (outcome.adopted, outcome.updated) == (1, 1)
    taken = next(i for i in books.all_invoices() if i["Id"] == foreign["Id"])
    assert f"shopify:order:{orders[0]['id']}" in taken["PrivateNote"]


def _store_raw(engine, orders: list[dict]) -> None:
    with engine.begin() as conn:
        raw.replace_window(conn, ORDERS, DAY, DAY + timedelta(days=1), [
            order_record(Order.model_validate(o), o, DAY) for o in orders], "test")


def _judge(engine, books, where):
    with engine.connect() as conn:
        frames = load_window(conn, where, DAY, DAY + timedelta(days=1), None,
                             invoices=books.all_invoices())
    return reconcile_window(frames)


def test_a_vat_shop_books_into_a_uk_company_at_shopifys_figures(engine, qbo_sandbox) -> None:
    """Non-US tax end to end: tax-inclusive prices, VAT codes per line, QuickBooks' own
    TotalAmt and tax, and a reconciliation with nothing to report."""
    server, books = qbo_sandbox
    books.update_settings(UK_COMPANY)
    orders = generate_shop(seed=21, start=DAY, days=1, orders_per_day=60, shop_currency="GBP",
                           taxes_included=True)
    _store_raw(engine, orders)
    outcome = _sync(engine, books, server, orders, UK)
    unbookable = [o for o in orders
                  if edge_tags(o) & {"no_line_items", "discount_exceeds_total"}]
    tests = [o for o in orders if o["test"]]
    assert outcome.dead_lettered == len(unbookable)
    assert outcome.skipped == len(tests)
    assert outcome.created + outcome.voided == len(orders) - len(unbookable) - len(tests) > 50
    by_doc = {i["DocNumber"]: i for i in books.all_invoices()}
    vat_charged = Decimal(0)
    for order in orders:
        invoice = by_doc.get(f"S{order['order_number']}")
        if order in unbookable or order in tests:
            assert invoice is None
            continue
        assert invoice["GlobalTaxCalculation"] == "TaxInclusive"
        if order["cancelled_at"]:
            assert invoice["TotalAmt"] == 0
            continue
        stated = {name: Decimal(order[name]["presentment_money"]["amount"])
                  for name in ("current_total_price_set", "current_total_tax_set")}
        assert Decimal(str(invoice["TotalAmt"])) == stated["current_total_price_set"]
        assert (Decimal(str(invoice["TxnTaxDetail"]["TotalTax"]))
                == stated["current_total_tax_set"])
        vat_charged += stated["current_total_tax_set"]
    assert vat_charged > 0
    assert _judge(engine, books, UK).discrepant_count == 0


def test_a_write_quickbooks_refuses_keeps_intuits_transaction_id_on_the_dead_letter(
        engine, qbo_sandbox) -> None:
    """A catalog that says US for a UK company: QuickBooks refuses every invoice (no
    GlobalTaxCalculation); each dead letter carries the intuit_tid support asks for."""
    server, books = qbo_sandbox
    books.update_settings(UK_COMPANY)
    orders = plain_orders(3)
    outcome = _sync(engine, books, server, orders)
    assert outcome.created == 0 and outcome.dead_lettered == 3
    found = letters(engine)
    tids = {found[str(o["id"])].vendor_request_id for o in orders}
    assert len(tids) == 3 and all(re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", t) for t in tids)
    assert all("GlobalTaxCalculation" in found[str(o["id"])].reason for o in orders)


def test_a_mapping_that_adds_the_tax_twice_fails_the_reconciliation(
        engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    orders = [o for o in generate_shop(seed=8, start=DAY, days=1, orders_per_day=30)
              if not edge_tags(o)]
    taxed = [o for o in orders if float(o["total_tax"]) > 0]
    assert taxed
    _store_raw(engine, orders)

    def tax_twice(order, where):
        draft = map_order(order, where)
        if isinstance(draft, InvoiceDraft):
            return dataclasses.replace(draft, tax=draft.tax * 2)
        return draft

    def judged():
        return _judge(engine, books, INTEGRATION)

    _sync(engine, books, server, orders, mapper=tax_twice)
    report = judged()
    assert report.counts["wrong_values"] == len(taxed)
    assert sorted(report.keys("wrong_values")) == sorted(f"S{o['order_number']}" for o in taxed)

    outcome = _sync(engine, books, server, orders)  # the mapping fixed: the books follow
    assert outcome.updated == len(taxed)
    assert judged().discrepant_count == 0
