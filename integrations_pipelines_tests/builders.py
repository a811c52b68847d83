"""Test data the tests share, built in one place: QuickBooks invoices (as a client sends them
and as a company holds them) and Shopify orders (one generated day without its edge cases)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from integrations_pipelines.sandbox.shop_generator import edge_tags, generate_shop

# The edge cases no mapping turns into an invoice (see sandbox/shop_generator.py).
UNMAPPABLE_EDGES = frozenset({"no_line_items", "discount_exceeds_total"})


# QuickBooks invoices ---------------------------------------------------------------------


def invoice_body(customer_id: str, **extra: Any) -> dict[str, Any]:
    """The body of `POST /invoice` for invoice 1001 of 2026-11-02: two sales lines (37.50),
    a 5.00 discount and 2.10 of tax; `extra` overrides or adds top-level fields."""
    return {
        "CustomerRef": {"value": customer_id}, "DocNumber": "1001", "TxnDate": "2026-11-02",
        "Line": [
            {"Amount": 30.0, "Description": "Ceramic Mug", "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 3, "UnitPrice": 10}},
            {"Amount": 7.5, "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "2"}, "Qty": 1, "UnitPrice": 7.5}},
            {"Amount": 5, "DetailType": "DiscountLineDetail",
             "DiscountLineDetail": {"PercentBased": False}},
        ],
        "TxnTaxDetail": {"TotalTax": 2.1, "TxnTaxCodeRef": {"value": "2"}},
        **extra,
    }


def one_line_invoice_body(customer_id: str, doc_number: str) -> dict[str, Any]:
    """The body of `POST /invoice` for a single 5.00 line of item 1, dated 2026-11-03."""
    return {"DocNumber": doc_number, "TxnDate": "2026-11-03", "CustomerRef": {"value": customer_id},
            "Line": [{"Amount": 5.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1,
                                              "UnitPrice": 5.0}}]}


def booked_invoice(doc: str | None, total: Any, **fields: Any) -> dict[str, Any]:
    """An invoice as a QuickBooks company holds it (a raw insert into the sandbox, a row of
    the store's invoice table): its DocNumber and TotalAmt, and exactly the other fields the
    test names (QuickBooks' names: `Id`, `TxnDate`, `SyncToken`, `CustomerRef`, ...)."""
    return {"DocNumber": doc, "TotalAmt": total, **fields}


def integration_invoice(ident: str, doc: str | None, note: str = "shopify:order:1 #1001",
                        **fields: Any) -> dict[str, Any]:
    """An invoice the integration wrote, as read back: 10.00 USD, no lines, our marker in
    `PrivateNote` and our tag on the customer; `fields` overrides any of them."""
    return booked_invoice(doc, 10, Id=ident, PrivateNote=note, SyncToken="0",
                          CurrencyRef={"value": "USD"}, Line=[],
                          CustomerRef={"value": "1", "name": "Ava Smith [shopify:7:USD]"},
                          ) | fields


# Shopify orders --------------------------------------------------------------------------


def clean_orders(seed: int, day: date, per_day: int, *, days: int = 1,
                 without: Collection[str] | None = None, paid: bool = False,
                 count: int | None = None) -> list[dict[str, Any]]:
    """The generated shop's orders (`generate_shop`) from `day`, minus those tagged with an
    edge case in `without` (by default: any edge case at all); only paid ones if `paid`; the
    first `count` of them if given (and there must be that many)."""
    orders = [o for o in generate_shop(seed=seed, start=day, days=days, orders_per_day=per_day)
              if not (edge_tags(o) if without is None else edge_tags(o) & set(without))
              and (not paid or o["financial_status"] == "paid")]
    if count is None:
        return orders
    assert len(orders) >= count, f"seed {seed} has {len(orders)} such orders, not {count}"
    return orders[:count]
