"""Property: across the money shapes of real orders, QuickBooks' own arithmetic on the invoice
we send gives Shopify's current total and tax, and the reconciliation agrees with the
dict-and-loop reference, whether the books match or were changed afterwards.

Orders are built with the sandbox's Shopify arithmetic (`make_order`, `apply_refund`,
`apply_cancel`): tax-inclusive and tax-exclusive shops, line and shipping discounts, duties,
additional fees, tips, gift cards, multi-currency presentment, refunds of goods and of
shipping with and without a refund discrepancy, cancellations. The invoice goes through the
QuickBooks sandbox's tax engine for a US company (manual and automated sales tax) and for a UK
company, which computes `TotalAmt` itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from integrations_pipelines.catalog import Integration, integration
from integrations_pipelines.mapping.shopify_to_quickbooks import InvoiceDraft, map_order
from integrations_pipelines.reconciliation.engine import reconcile
from integrations_pipelines.reconciliation.frames import LEDGER_COLUMNS
from integrations_pipelines.reconciliation.shopify_to_quickbooks import (
    INVOICE_FIELDS,
    destination_frame,
    source_frame,
)
from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore
from integrations_pipelines.sandbox.shopify_orders import (
    LineSpec,
    apply_cancel,
    apply_refund,
    make_order,
)
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines_tests.reconciliation import reference

CREATED = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
US = integration("shopify_to_quickbooks")
US_AUTOMATED = US.model_copy(update={"quickbooks": US.quickbooks.model_copy(update={
    "sales_tax": "automated"})})
UK = US.model_copy(update={"quickbooks": US.quickbooks.model_copy(update={
    "country": "GB", "tax_codes": {"0.2": "2", "0.05": "3"}, "untaxed_tax_code_id": "4",
    "sales_tax_code_id": None})})
COMPANIES = {  # name -> (catalog, sandbox settings, shop currency, tax rates)
    "us_manual": (US, {"country": "US"}, "USD", ["0.05", "0.0625", "0.08"]),
    "us_automated": (US_AUTOMATED, {"country": "US", "automated_sales_tax": True}, "USD",
                     ["0.05", "0.0625", "0.08"]),
    "uk": (UK, {"country": "GB", "home_currency": "GBP"}, "GBP", ["0.2", "0.05"]),
}
PRODUCTS = [("Ceramic Mug", "14.00"), ("Canvas Tote", "9.50"), ("Wool Socks", "12.99"),
            ("Walnut Board", "48.00"), ("Tea Sampler", "22.40")]


@st.composite
def orders(draw: st.DrawFn) -> tuple[str, dict]:
    company = draw(st.sampled_from(sorted(COMPANIES)))
    _, _, shop_currency, rates = COMPANIES[company]
    foreign = draw(st.booleans())
    presentment = "EUR" if foreign else shop_currency
    lines = [LineSpec(title, Decimal(price), draw(st.integers(1, 4)),
                      taxable=draw(st.integers(0, 4)) > 0)
             for title, price in draw(st.lists(st.sampled_from(PRODUCTS), min_size=1,
                                               max_size=3))]
    if draw(st.booleans()):
        lines.append(LineSpec("Gift Card", Decimal(draw(st.sampled_from(["25.00", "50.00"]))),
                              taxable=False, gift_card=True))
    shipping = draw(st.sampled_from([None, "4.99", "12.00"]))
    raw = make_order(
        order_id=5_500_000_000_000_000_777, order_number=1077, created_at=CREATED, lines=lines,
        shop_currency=shop_currency, presentment_currency=presentment,
        rate=draw(st.sampled_from(["1.08", "0.8731"])) if foreign else "1",
        customer={"id": 7001, "first_name": "Ava", "last_name": "Smith",
                  "email": "ava@example.com"}, email="ava@example.com",
        discount=draw(st.sampled_from([None, ("TEN", "10", "percentage"),
                                       ("FIVE", "5.00", "fixed_amount")])),
        shipping=shipping,
        shipping_discount=(draw(st.sampled_from([None, "2.00", shipping]))
                           if shipping else None),
        tax_rate=draw(st.sampled_from([None, *rates])),
        taxes_included=draw(st.booleans()),
        duty_rate=draw(st.sampled_from([None, "0.04"])),
        additional_fee=draw(st.sampled_from([None, "0.27"])),
        tip=None if foreign else draw(st.sampled_from([None, "2.50"])),
    )
    at = CREATED
    for step in range(draw(st.integers(0, 2))):
        at += timedelta(days=1)
        goods = [li for li in raw["line_items"]
                 if li["quantity"] > sum(r["quantity"] for f in raw["refunds"]
                                         for r in f["refund_line_items"]
                                         if r["line_item_id"] == li["id"])]
        if not goods:
            break
        line = draw(st.sampled_from(goods))
        refund = apply_refund(raw, at=at, refund_id=900 + step, transaction_id=950 + step,
                              lines=[(line["id"], 1)], shipping=draw(st.booleans()))
        short = draw(st.sampled_from([None, Decimal("0.50")]))
        if short is not None:  # paid back less than the goods: a refund discrepancy
            paid = Decimal(refund["transactions"][0]["amount"])
            raw["refunds"].pop()
            apply_refund(raw, amount=max(paid - short, Decimal("0.01")), at=at,
                         refund_id=900 + step, transaction_id=950 + step,
                         lines=[(line["id"], 1)])
    if draw(st.integers(0, 5)) == 0:
        apply_cancel(raw, at=at + timedelta(hours=1), refund_id=990, transaction_id=991)
    return company, raw


def _book(company: str, draft: InvoiceDraft) -> dict:
    """The invoice as the company's QuickBooks computes and keeps it."""
    _, sandbox, _, _ = COMPANIES[company]
    books = QuickBooksStore(**sandbox)
    customer = books.save_customer(draft.customer.to_qbo())
    invoice = books.save_invoice(draft.to_qbo(customer["Id"]))
    if draft.voided:
        invoice = books.void_invoice({"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})
    return invoice | {"CustomerRef": {"value": customer["Id"],
                                      "name": customer["DisplayName"]}}


def _stated(raw: dict, name: str) -> Decimal:
    return Decimal(raw[name]["presentment_money"]["amount"])


def _judge(order: Order, invoice: dict | None, copies: int, where: Integration,
           version: datetime) -> tuple[dict, dict]:
    """The engine's classes and the reference's, for one order and its books."""
    ledger = pd.DataFrame([{"key": "S1077", "source_id": str(order.id),
                            "source_version": pd.Timestamp(version),
                            "destination_id": invoice["Id"] if invoice else "gone",
                            "status": "synced"}], columns=list(LEDGER_COLUMNS))
    source = source_frame([order], where)
    records = [invoice | {"Id": f"{invoice['Id']}{n}"} if n else invoice
               for n in range(copies)] if invoice else []
    destination = destination_frame(records, ledger)
    got = reconcile(source, destination, ledger, INVOICE_FIELDS)
    classes = dict(zip(got.table["key"], got.table["class"].astype(str), strict=True))
    want = reference.classify(source, destination, ledger, list(INVOICE_FIELDS))
    return classes, want.discrepancies()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders(), st.sampled_from(["none", "total", "tax", "deleted", "twice", "stale"]))
def test_quickbooks_totals_equal_shopifys_and_the_judge_matches_the_reference(
        shaped: tuple[str, dict], tampering: str) -> None:
    company, raw = shaped
    where = COMPANIES[company][0]
    order = Order.model_validate(raw)
    draft = map_order(order, where)
    assert isinstance(draft, InvoiceDraft), draft
    invoice = _book(company, draft)
    if draft.voided:
        assert Decimal(str(invoice["TotalAmt"])) == 0
    else:
        assert Decimal(str(invoice["TotalAmt"])) == _stated(raw, "current_total_price_set")
        assert (Decimal(str(invoice["TxnTaxDetail"]["TotalTax"]))
                == _stated(raw, "current_total_tax_set"))
    classes, expected = _judge(order, invoice, 1, where, order.updated_at)
    assert classes == expected == {}

    # The books changed after the sync (or the sync fell behind): both judges see the same.
    version = order.updated_at
    copies = 1
    if tampering == "total":
        invoice = invoice | {"TotalAmt": float(Decimal(str(invoice["TotalAmt"])) + 1)}
    elif tampering == "tax":
        detail = invoice.get("TxnTaxDetail") or {}
        invoice = invoice | {"TxnTaxDetail": detail | {
            "TotalTax": float(Decimal(str(detail.get("TotalTax", 0))) + Decimal("0.01"))}}
    elif tampering == "deleted":
        invoice = None
    elif tampering == "twice":
        copies = 2
    elif tampering == "stale":
        version -= timedelta(days=1)
        invoice = invoice | {"TotalAmt": float(Decimal(str(invoice["TotalAmt"])) + 1)}
    classes, expected = _judge(order, invoice, copies, where, version)
    assert classes == expected
    # A second, voided copy of a cancelled order's invoice is settled, not a duplicate.
    harmless = tampering == "none" or (tampering == "twice" and draft.voided)
    assert (classes == {}) == harmless
    event(f"{company}, tampering {tampering}, {'voided' if draft.voided else 'live'}")
