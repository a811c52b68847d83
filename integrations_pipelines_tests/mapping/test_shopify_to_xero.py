"""Shopify orders into Xero documents: the booking rules, on built orders and on a whole
generated UK shop (the property: every order is documents that add up to what Shopify
states, or a rejection with its reason)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from integrations_pipelines.mapping.shopify_to_xero import external_key, map_order
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.mapping.text import normalize_text
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.sandbox.shopify_orders import (
    LineSpec,
    apply_cancel,
    apply_refund,
    make_order,
)
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.xero.drafts import XeroInvoiceDraft

AT = datetime(2026, 11, 3, 10, tzinfo=UTC)
ENTRY = ShopifyToXeroEntry(
    name="shopify_to_xero", description="Shopify into Xero.", source="shopify",
    destination="xero", owner="team:finance-data", owner_email="finance@example.com",
    slack_channel="#finance", timezone="Europe/London", partitions_start=date(2026, 11, 1),
    schedule={"hour": 2, "minute": 45}, freshness_sla_hours=26, expected_daily_volume=40)
XERO_TAX_TYPES = {"OUTPUT2", "RROUTPUT", "ZERORATEDOUTPUT", "EXEMPTOUTPUT", "NONE"}


def uk_order(lines, n: int = 1, **kw) -> dict:
    kw.setdefault("taxes_included", True)
    kw.setdefault("tax_rate", "0.2")
    return make_order(order_id=7_000_000 + n, order_number=1000 + n, created_at=AT,
                      lines=lines, shop_currency="GBP",
                      customer={"id": 55, "first_name": "Ada", "last_name": "Lovelace",
                                "email": "ada@example.com"}, **kw)


def mapped(raw: dict) -> XeroInvoiceDraft:
    draft = map_order(Order.model_validate(raw), ENTRY)
    assert isinstance(draft, XeroInvoiceDraft), draft
    return draft


def test_a_vat_inclusive_order_is_an_authorised_invoice_with_uk_tax_types():
    raw = uk_order([LineSpec("Tea towel", Decimal("12.00"), 2)], shipping="4.80",
                   discount=("TEN", "10", "percentage"), financial_status="pending")
    draft = mapped(raw)
    body = draft.to_xero()
    assert body["Type"] == "ACCREC" and body["LineAmountTypes"] == "Inclusive"
    assert body["InvoiceNumber"] == external_key(Order.model_validate(raw)) == "S1001"
    assert body["Reference"].startswith("shopify:order:7000001")
    assert "CurrencyRate" not in body and body["CurrencyCode"] == "GBP"
    goods, shipping = body["LineItems"]
    # The discount is the line's DiscountAmount: 2 x 12.00 less 10%.
    assert (goods["Quantity"], goods["UnitAmount"], goods["DiscountAmount"]) == (2, 12.0, 2.4)
    assert goods["TaxType"] == "OUTPUT2"
    assert shipping["TaxType"] == "EXEMPTOUTPUT"  # Shopify charged no tax on it
    assert shipping["UnitAmount"] == 4.8 and shipping["AccountCode"] == "200"
    assert draft.total == Decimal(raw["total_price_set"]["presentment_money"]["amount"])
    assert draft.tax == Decimal(raw["total_tax_set"]["presentment_money"]["amount"])
    assert draft.paid == 0 and not draft.credit_notes  # unpaid: stays AUTHORISED, all due


@pytest.mark.parametrize(("rate", "taxable", "expected"), [
    ("0.2", True, "OUTPUT2"), ("0.05", True, "RROUTPUT"), ("0", True, "ZERORATEDOUTPUT"),
    ("0.2", False, "EXEMPTOUTPUT"),
])
def test_each_uk_vat_rate_takes_its_tax_type(rate, taxable, expected):
    draft = mapped(uk_order([LineSpec("Item", Decimal("21.00"), taxable=taxable)],
                            tax_rate=rate))
    assert draft.lines[0].tax_type == expected


def test_an_unknown_rate_is_a_dead_letter_naming_the_catalog():
    rejected = map_order(Order.model_validate(
        uk_order([LineSpec("Item", Decimal("10.00"))], tax_rate="0.125")), ENTRY)
    assert isinstance(rejected, MappingRejected)
    assert rejected.reason_code == "unmapped_tax_rate" and "xero.tax_types" in rejected.reason


def test_an_emoji_product_name_is_spelled_out_and_its_original_kept():
    raw = uk_order([LineSpec("Unicorn mug \U0001F984", Decimal("9.00"))])
    draft = mapped(raw)
    assert draft.lines[0].description == "Unicorn mug [UNICORN FACE]"
    assert dict(draft.normalised)["line[0]"] == "Unicorn mug \U0001F984"
    assert normalize_text("a\x00b \U0001F600", spell=True) == "a b [GRINNING FACE]"
    assert normalize_text("a \U0001F600") == "a"  # the flagship's rule: removed


def test_a_gift_card_sale_is_a_liability_outside_vat_and_a_paid_order_is_paid():
    raw = uk_order([LineSpec("Gift card", Decimal("25.00"), gift_card=True, taxable=False),
                    LineSpec("Candle", Decimal("18.00"))])
    draft = mapped(raw)
    card, candle = draft.lines
    assert (card.account_code, card.tax_type, card.tax) == ("835", "NONE", 0)
    assert candle.account_code == "200"
    assert draft.paid == draft.total  # financial_status paid: the clearing account holds it
    assert draft.clearing_account == "090"


def test_a_multi_currency_order_is_invoiced_in_its_presentment_currency():
    raw = uk_order([LineSpec("Scarf", Decimal("40.00"))], presentment_currency="EUR",
                   rate="0.86")
    draft = mapped(raw)
    assert draft.currency == "EUR" and "CurrencyRate" not in draft.to_xero()
    assert draft.total == Decimal(raw["total_price_set"]["presentment_money"]["amount"])


def test_a_partial_refund_is_a_credit_note_with_its_lines_and_vat():
    raw = uk_order([LineSpec("Mug", Decimal("10.00"), 3), LineSpec("Jam", Decimal("6.30"))],
                   shipping="3.60")
    mug = raw["line_items"][0]["id"]
    apply_refund(raw, at=AT + timedelta(days=2), refund_id=901, transaction_id=902,
                 lines=[(mug, 1)])
    draft = mapped(raw)
    assert draft.total == Decimal(raw["total_price_set"]["presentment_money"]["amount"])
    [note] = draft.credit_notes
    assert note.number == "S1001-R901" and note.on == date(2026, 11, 5)
    [line] = note.lines
    assert (line.unit_amount, line.tax, line.tax_type) == (Decimal("10.00"), Decimal("1.67"),
                                                           "OUTPUT2")
    assert draft.total - draft.credited == Decimal(
        raw["current_total_price_set"]["presentment_money"]["amount"])
    assert draft.paid == draft.total - draft.credited  # what the shop still holds


def test_a_cancelled_order_voids_its_invoice_as_sold_and_a_test_order_is_skipped():
    raw = uk_order([LineSpec("Mug", Decimal("10.00"))])
    apply_cancel(raw, at=AT + timedelta(hours=3), refund_id=903, transaction_id=904)
    draft = mapped(raw)
    assert draft.voided and not draft.credit_notes and draft.paid == 0
    assert draft.total == Decimal(raw["total_price_set"]["presentment_money"]["amount"])
    skipped = map_order(Order.model_validate(uk_order([LineSpec("x", Decimal(1))], test=True)),
                        ENTRY)
    assert skipped == MappingSkipped("test_order")


def test_every_order_of_a_generated_uk_shop_adds_up_or_says_why_not():
    orders = generate_shop(seed=6, start=date(2026, 11, 1), days=3, orders_per_day=60,
                           shop_currency="GBP", taxes_included=True)
    reasons: dict[str, int] = {}
    drafts = credit_notes = 0
    for raw in orders:
        order = Order.model_validate(raw)
        result = map_order(order, ENTRY)
        if isinstance(result, MappingSkipped):
            assert order.test
            continue
        if isinstance(result, MappingRejected):
            assert result.reason  # a dead letter always says why
            reasons[result.reason_code] = reasons.get(result.reason_code, 0) + 1
            continue
        drafts += 1
        stated = (order.total_price_set.presentment_money.amount,
                  order.total_tax_set.presentment_money.amount)
        assert (result.total, result.tax) == stated, order.name
        assert result.currency == order.presentment_currency
        assert {ln.tax_type for ln in result.lines} <= XERO_TAX_TYPES
        texts = [ln.description for ln in result.lines] + [result.contact_name]
        assert not any(ord(ch) > 0xFFFF for t in texts for ch in t), order.name
        if result.voided:
            continue
        now = (order.current_total_price_set or order.total_price_set).presentment_money.amount
        assert result.total - result.credited == now, order.name
        assert len(result.credit_notes) <= len(order.refunds)
        credit_notes += len(result.credit_notes)
        assert result.paid in (Decimal(0), now)
    assert drafts > 150
    assert credit_notes > 5
    assert set(reasons) <= {"no_line_items", "discount_exceeds_total", "refunds_disagree",
                            "tip_currency_unknown", "totals_disagree", "tax_disagrees"}
