"""The UK shop of the seeds' story, for the Xero pair in `dev`: a tax-inclusive GBP shop
whose orders are the generated VAT shop's (standard 20% and reduced 5% VAT, exempt goods,
euro and dollar presentment currencies, emoji in product names, refunds and partial
refunds, gift cards, unpaid and cancelled orders, test orders, and the generator's
deliberate refusals: a discount larger than the goods, an order without lines) plus the
seeds' own day, one order of each case the issue names: the emoji product, a zero-rated
book, a partial refund with its VAT, a US-dollar order, a gift card, an unpaid order and a
partially paid one (a deposit taken, the rest outstanding).

Only the sandbox and `dev` use it; the flagship's US shop is untouched.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.sandbox.shopify_orders import LineSpec, apply_refund, make_order

__all__ = ["SEEDS_DAY_ORDERS", "uk_shop"]

SEEDS_DAY_ORDERS = 7
_FIRST_ID = 7_700_000_000_000_000_000
_FIRST_NUMBER = 9001


def _order(n: int, at: datetime, lines: list[LineSpec], **kw: Any) -> dict[str, Any]:
    return make_order(order_id=_FIRST_ID + n, order_number=_FIRST_NUMBER + n,
                      created_at=at + timedelta(minutes=7 * n), lines=lines,
                      shop_currency="GBP", taxes_included=True,
                      tax_rate=kw.pop("tax_rate", "0.2"),
                      customer={"id": 7700 + n, "first_name": "Ada",
                                "last_name": f"Lovelace {n}", "email": f"ada{n}@example.co.uk"},
                      **kw)


def seeds_day(day: date) -> list[dict[str, Any]]:
    """The seeds' day in the UK shop: each case the issue names, once."""
    at = datetime.combine(day, time(9), UTC)
    refunded = _order(3, at, [LineSpec("Mug", Decimal("10.00"), 3),
                              LineSpec("Jam", Decimal("6.30"), taxable=False)])
    apply_refund(refunded, at=at + timedelta(hours=6), refund_id=_FIRST_ID + 103,
                 transaction_id=_FIRST_ID + 203, lines=[(refunded["line_items"][0]["id"], 1)])
    deposit = _order(7, at, [LineSpec("Oak bench", Decimal("240.00"))],
                     financial_status="partially_paid")
    deposit["total_outstanding"] = "160.00"  # a deposit of 80 taken at checkout
    return [
        _order(1, at, [LineSpec("Unicorn mug \U0001F984", Decimal("14.40"))]),
        _order(2, at, [LineSpec("Children's book", Decimal("8.99"))], tax_rate="0"),
        refunded,
        _order(4, at, [LineSpec("Scarf", Decimal("40.00"))], presentment_currency="USD",
               rate="0.79"),
        _order(5, at, [LineSpec("Gift card", Decimal("25.00"), gift_card=True, taxable=False),
                       LineSpec("Candle", Decimal("18.00"))]),
        _order(6, at, [LineSpec("Tea towel", Decimal("12.00"), 2)], financial_status="pending",
               tax_rate="0.05"),
        deposit,
    ]


def uk_shop(seed: int, start: date, days: int, orders_per_day: int) -> list[dict[str, Any]]:
    """The UK shop's orders over `days` days from `start`: the generated VAT shop, and the
    seeds' day on the last of them."""
    generated = generate_shop(seed, start, days, orders_per_day, shop_currency="GBP",
                              taxes_included=True)
    return generated + seeds_day(start + timedelta(days=days - 1))
