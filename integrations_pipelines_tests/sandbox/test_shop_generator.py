"""The seeded shop: determinism, every edge case present, consistent Shopify arithmetic."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from integrations_pipelines.sandbox.shop_generator import (
    EDGE_CASES,
    MONEY_SHAPES,
    LineSpec,
    edge_tags,
    generate_shop,
    make_order,
)
from integrations_pipelines.sandbox.shopify_orders import parse_time


def d(value: str) -> Decimal:
    return Decimal(value)


def check_money(order: dict[str, Any], side: str) -> None:
    def amount(name: str) -> Decimal:
        return d(order[name][side]["amount"]) if order.get(name) else Decimal("0")
    lines = sum((d(li["price_set"][side]["amount"]) * li["quantity"]
                 for li in order["line_items"]), Decimal("0"))
    assert amount("total_line_items_price_set") == lines
    allocations = sum((d(a["amount_set"][side]["amount"]) for li in order["line_items"]
                       for a in li["discount_allocations"]), Decimal("0"))
    shipping_off = sum((d(a["amount_set"][side]["amount"]) for s in order["shipping_lines"]
                        for a in s.get("discount_allocations", [])), Decimal("0"))
    assert allocations + shipping_off == amount("total_discounts_set")
    assert amount("subtotal_price_set") == lines - allocations
    duties = sum((d(duty[side]["amount"]) for li in order["line_items"]
                  for duty in li["duties"]), Decimal("0"))
    assert duties == amount("original_total_duties_set")
    tip = d(order["total_tip_received"])
    tax = amount("total_tax_set")
    assert amount("total_price_set") == (
        amount("subtotal_price_set") + amount("total_shipping_price_set") - shipping_off
        + duties + amount("original_total_additional_fees_set") + tip
        + (Decimal("0") if order["taxes_included"] else tax))
    line_tax = sum((d(t["price_set"][side]["amount"]) for li in order["line_items"]
                    for t in li["tax_lines"]), Decimal("0"))
    assert line_tax == tax
    for li in order["line_items"]:
        if li["gift_card"]:  # gift cards are neither taxed nor discounted
            assert not li["tax_lines"] and not li["discount_allocations"] and not li["duties"]


def test_deterministic() -> None:
    start = datetime.date(2026, 11, 1)
    assert generate_shop(5, start, 3, 20) == generate_shop(5, start, 3, 20)
    assert generate_shop(5, start, 3, 20) != generate_shop(6, start, 3, 20)


def test_every_edge_case_and_consistent_arithmetic(shop_orders: list[dict[str, Any]]) -> None:
    assert len(shop_orders) == 500
    tags = [edge_tags(o) for o in shop_orders]
    assert set(EDGE_CASES) | set(MONEY_SHAPES) <= set().union(*tags)
    range_end = parse_time("2026-11-10T23:59:59+00:00")
    previous = None
    for number, (order, edges) in enumerate(zip(shop_orders, tags, strict=True), start=1001):
        assert order["order_number"] == number and order["name"] == f"#{number}"
        assert 18 <= len(str(order["id"])) <= 19 and order["id"] < 2**63
        created, updated = parse_time(order["created_at"]), parse_time(order["updated_at"])
        assert created <= updated <= range_end
        if previous is not None:
            assert order["id"] > previous["id"]
            assert created >= parse_time(previous["created_at"])
        previous = order
        check_money(order, "shop_money")
        check_money(order, "presentment_money")
        assert order["total_price"] == order["total_price_set"]["shop_money"]["amount"]
        for refund in order["refunds"]:
            assert parse_time(refund["created_at"]) <= updated
        if "multi_currency" in edges:
            assert order["presentment_currency"] != order["currency"] == "USD"
            assert 2 <= len(order["line_items"]) <= 5
        if "guest_checkout" in edges:
            assert order["customer"] is None
        if "missing_email" in edges:
            assert order["email"] is None
            assert order["customer"] is None or order["customer"]["email"] is None
        person = order["customer"] or order["billing_address"]
        if "long_name" in edges:
            assert len(person["first_name"] + person["last_name"]) > 500
        if "long_title" in edges:
            assert len(order["line_items"][0]["title"]) > 4000
        if "apostrophe" in edges:
            assert "'" in person["last_name"]
        if "discount_exceeds_total" in edges:
            assert d(order["total_discounts"]) > d(order["total_line_items_price"])
        if "no_line_items" in edges:
            assert order["line_items"] == []
        if "refund_full" in edges:
            assert order["financial_status"] == "refunded"
            assert order["current_total_price"] == "0.00"
        if "refund_partial" in edges:
            assert order["financial_status"] == "partially_refunded"
            assert updated == parse_time(order["refunds"][0]["created_at"])
        if "shipping_discount" in edges:
            ship = order["shipping_lines"][0]
            assert d(ship["discounted_price"]) < d(ship["price"]) and ship["discount_allocations"]
        if "gift_card" in edges:
            assert any(li["gift_card"] for li in order["line_items"])
        if "duties" in edges:
            assert all(isinstance(duty["id"], str) for li in order["line_items"]
                       for duty in li["duties"])
            assert d(order["current_total_duties_set"]["shop_money"]["amount"]) > 0
        if "tip" in edges:
            assert d(order["total_tip_received"]) > 0
            assert order["presentment_currency"] == order["currency"]
        if "additional_fee" in edges:
            assert d(order["current_total_additional_fees_set"]["shop_money"]["amount"]) > 0
        assert order["test"] == ("test_order" in edges)
        if "cancelled" in edges:
            assert order["cancelled_at"] and order["cancel_reason"]
            assert order["financial_status"] in ("voided", "refunded")
    astral = [o for o, e in zip(shop_orders, tags, strict=True) if "astral_chars" in e]
    assert all(any(ord(ch) > 0xFFFF for ch in str(o)) for o in astral)


def test_make_order_multi_currency() -> None:
    order = make_order(
        order_id=5_500_000_000_000_000_123, order_number=1001,
        created_at=datetime.datetime(2026, 11, 1, 9, 12, 44, tzinfo=datetime.UTC),
        lines=[LineSpec("Mug", Decimal("14.00"), 3), LineSpec("Tote", Decimal("9.50"), 1)],
        presentment_currency="EUR", rate="1.0843", shipping="4.99", tax_rate="0.1",
        discount=("FIVEOFF", "5.00", "fixed_amount"),
        customer={"id": 1, "email": None, "first_name": "Ann", "last_name": "D'Angelo"},
    )
    assert order["created_at"] == "2026-11-01T09:12:44+00:00"
    assert order["total_price_set"]["presentment_money"] == {"amount": "56.14",
                                                             "currency_code": "EUR"}
    check_money(order, "shop_money")
    check_money(order, "presentment_money")
    assert order["customer"]["currency"] == "EUR"


def test_a_vat_shop_has_prices_that_contain_their_tax() -> None:
    start = datetime.date(2026, 11, 1)
    shop = generate_shop(5, start, 2, 60, shop_currency="GBP", taxes_included=True)
    plain = generate_shop(5, start, 2, 60, shop_currency="GBP")
    taxed = 0
    for vat, exclusive in zip(shop, plain, strict=True):
        assert vat["taxes_included"] and not exclusive["taxes_included"]
        assert ([(li["id"], li["quantity"], li["price"]) for li in vat["line_items"]]
                == [(li["id"], li["quantity"], li["price"]) for li in exclusive["line_items"]])
        check_money(vat, "shop_money")
        check_money(vat, "presentment_money")
        for line in vat["line_items"]:
            for tax in line["tax_lines"]:
                assert tax["rate"] in (0.2, 0.05)
                pres = "presentment_money"  # computed there, converted to shop money after
                net = max(d(line["price_set"][pres]["amount"]) * line["quantity"]
                          - d(line["total_discount_set"][pres]["amount"]), 0)
                rate = Decimal(str(tax["rate"]))
                inside = (net * rate / (1 + rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
                assert d(tax["price_set"][pres]["amount"]) == inside
                taxed += 1
    assert taxed > 20
