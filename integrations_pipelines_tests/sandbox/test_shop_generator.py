"""The seeded shop: determinism, every edge case present, consistent Shopify arithmetic."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from integrations_pipelines.sandbox.shop_generator import (
    EDGE_CASES,
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
        return d(order[name][side]["amount"])
    lines = sum((d(li["price_set"][side]["amount"]) * li["quantity"]
                 for li in order["line_items"]), Decimal("0"))
    assert amount("total_line_items_price_set") == lines
    assert amount("subtotal_price_set") == lines - amount("total_discounts_set")
    assert amount("total_price_set") == (amount("subtotal_price_set")
                                         + amount("total_shipping_price_set")
                                         + amount("total_tax_set"))
    allocations = sum((d(a["amount_set"][side]["amount"]) for li in order["line_items"]
                       for a in li["discount_allocations"]), Decimal("0"))
    assert allocations == amount("total_discounts_set")
    tax = sum((d(t["price_set"][side]["amount"]) for li in order["line_items"]
               for t in li["tax_lines"]), Decimal("0"))
    assert tax == amount("total_tax_set")


def test_deterministic() -> None:
    start = datetime.date(2026, 11, 1)
    assert generate_shop(5, start, 3, 20) == generate_shop(5, start, 3, 20)
    assert generate_shop(5, start, 3, 20) != generate_shop(6, start, 3, 20)


def test_every_edge_case_and_consistent_arithmetic(shop_orders: list[dict[str, Any]]) -> None:
    assert len(shop_orders) == 500
    tags = [edge_tags(o) for o in shop_orders]
    assert set(EDGE_CASES) <= set().union(*tags)
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
