"""Vendor contracts: violations fail loudly with the payload captured (redacted), new fields
are recorded as drift, through the real clients against the sandboxes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from integrations_pipelines.alerts.redaction import Redactor
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.state.tables import contract_observations
from integrations_pipelines.vendors.contracts import ContractGuard, field_path
from integrations_pipelines.vendors.errors import ContractViolation
from integrations_pipelines.vendors.quickbooks.client import connect
from integrations_pipelines.vendors.quickbooks.models import Invoice
from integrations_pipelines.vendors.shopify.client import ShopifyClient, make_http_client
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines_tests.builders import one_line_invoice_body
from integrations_pipelines_tests.support import sandbox_quickbooks_settings

DAY = date(2026, 11, 3)
START = datetime(2026, 11, 3, tzinfo=UTC)


def orders(n: int) -> list[dict]:
    return generate_shop(seed=7, start=DAY, days=1, orders_per_day=n)


def observed(engine: sa.Engine) -> dict[tuple[str, str, str], sa.Row]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(contract_observations)).all()
    return {(r.kind, r.model, r.field_path): r for r in rows}


def test_field_paths_name_list_positions_as_brackets() -> None:
    assert field_path(("line_items", 0, "price")) == "line_items[].price"
    assert field_path(("refunds", 1, "transactions", 0, "amount")) == (
        "refunds[].transactions[].amount")
    assert field_path(()) == "(root)"


def test_new_fields_are_drift_counted_per_field_and_known_fields_are_not(engine) -> None:
    page = orders(3)
    for order in page:
        order["loyalty_tier"] = "gold"
    page[0]["line_items"][0]["gift_wrap"] = {"paper": "red"}
    first = ContractGuard(engine, run_id="run-1")
    assert len(first.validate_many(Order, page, vendor="shopify", endpoint="orders.list")) == 3
    ContractGuard(engine, run_id="run-2").validate(Order, page[1], vendor="shopify",
                                                   endpoint="orders.list")

    rows = observed(engine)
    assert set(rows) == {("unknown_field", "Order", "loyalty_tier"),
                         ("unknown_field", "Order", "line_items[].gift_wrap")}
    tier = rows[("unknown_field", "Order", "loyalty_tier")]
    assert tier.occurrences == 4 and tier.last_run_id == "run-2" and "str" in tier.detail
    assert rows[("unknown_field", "Order", "line_items[].gift_wrap")].occurrences == 1
    assert first.drift == {"Order.loyalty_tier": 3, "Order.line_items[].gift_wrap": 1}
    # billing_address, processed_at, ... are documented Shopify fields: not drift.
    assert "billing_address" in page[0] and not any("billing" in k[2] for k in rows)


def test_changed_type_fails_naming_model_field_and_row_with_payload_redacted(engine) -> None:
    page = orders(4)
    for order in page:
        order["total_price"] = {"amount": order["total_price"], "currency_code": "USD"}
    page[0]["note"] = "paste: shpat_0123456789abcdef0123"
    page[0]["cart_token"] = "cart-secret-0042"
    guard = ContractGuard(engine, run_id="run-7", redactor=Redactor(["cart-secret-0042"]))
    with pytest.raises(ContractViolation) as caught:
        guard.validate_many(Order, page, vendor="shopify", endpoint="orders.list")

    row = observed(engine)[("violation", "Order", "total_price")]
    message = str(caught.value)
    assert "Order.total_price" in message and "4 of 4 records" in message
    assert f"contract_observations id {row.id}" in message
    assert row.occurrences == 4 and row.last_run_id == "run-7" and "got dict" in row.detail
    text = json.dumps(row.sample_payload)
    assert row.sample_payload["id"] == page[0]["id"]
    assert "shpat_0123" not in text and "cart-secret-0042" not in text and "[REDACTED]" in text
    assert caught.value.payload == row.sample_payload


def test_one_record_missing_a_required_field_fails_the_page(engine) -> None:
    page = orders(5)
    del page[2]["name"]
    with pytest.raises(ContractViolation, match=r"Order\.name \(missing.*1 of 5 records"):
        ContractGuard(engine).validate_many(Order, page, vendor="shopify",
                                            endpoint="orders.list")
    assert observed(engine)[("violation", "Order", "name")].sample_payload["id"] == page[2]["id"]


def test_quickbooks_amount_turning_into_a_string_is_a_violation(engine) -> None:
    invoice = {"Id": "41", "SyncToken": "0", "TxnDate": "2026-11-03",
               "CustomerRef": {"value": "7"}, "TotalAmt": "12.50"}
    with pytest.raises(ContractViolation, match=r"Invoice\.TotalAmt"):
        ContractGuard(engine).validate(Invoice, invoice, vendor="quickbooks",
                                       endpoint="invoice.read")
    assert ContractGuard(engine).validate(Invoice, {**invoice, "TotalAmt": 12.5},
                                          vendor="quickbooks", endpoint="invoice.read")


def test_without_a_store_it_still_raises() -> None:
    with pytest.raises(ContractViolation, match="not recorded"):
        ContractGuard().validate(Order, {"id": "1"}, vendor="shopify", endpoint="orders.list")


def test_shopify_client_validates_every_page(engine, shop_sandbox) -> None:
    server, shop = shop_sandbox(orders(12))
    shop.faults.update({"schema_drift": {"page_size_cap": 5,
                                         "add_fields": {"line_items[].gift_wrap": True}}})
    client = ShopifyClient(make_http_client(server.url, shop.access_token),
                           contracts=ContractGuard(engine, run_id="pages"))
    window = {"created_at_min": START, "created_at_max": START + timedelta(days=1)}
    with client.http:
        assert len(list(client.iter_orders(**window))) == 12  # three pages of at most 5
        assert client.count_orders(**window) == 12
        shop.faults.update({"schema_drift": {"total_price_as_object": True}})
        # Each order stands alone: every one comes back with its error, none is dropped.
        screened = list(client.iter_orders(**window))
        assert len(screened) == 12 and all(s.instance is None for s in screened)
        assert "Order.total_price" in screened[0].error
    assert set(client.served_versions) == {"2026-10"}  # the version asked for is current
    rows = observed(engine)
    assert rows[("unknown_field", "Order", "line_items[].gift_wrap")].occurrences >= 12
    assert rows[("violation", "Order", "total_price")].last_run_id == "pages"


def test_quickbooks_client_validates_writes_and_reads_past_a_lowered_page_cap(
        engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    settings = sandbox_quickbooks_settings(server, books)
    client = connect(settings, engine, contracts=ContractGuard(engine, run_id="qbo"))
    with client.http:
        cust = client.create_customer({"DisplayName": "Amara Okafor"}, "customer-1")
        for number in range(7):
            client.create_invoice(one_line_invoice_body(cust["Id"], f"S{number}"),
                                  f"invoice-{number}")
        books.faults.update({"schema_drift": {"page_size_cap": 3}})
        found = list(client.query("Invoice", "TxnDate = '2026-11-03'"))
        assert sorted(i["DocNumber"] for i in found) == [f"S{n}" for n in range(7)]
        books.faults.update({"schema_drift": {"page_size_cap": None,
                                              "amounts_as_strings": True}})
        with pytest.raises(ContractViolation, match=r"Invoice\.TotalAmt"):
            client.create_invoice(one_line_invoice_body(cust["Id"], "S9"), "invoice-9")
    # The write happened; only its answer broke the contract: the run fails, and the
    # re-run finds the invoice by DocNumber instead of creating a second one.
    assert [i["DocNumber"] for i in books.all_invoices()].count("S9") == 1
    row = observed(engine)[("violation", "Invoice", "TotalAmt")]
    assert row.sample_payload["DocNumber"] == "S9" and row.last_run_id == "qbo"
