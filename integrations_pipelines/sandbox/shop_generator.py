"""Deterministic seeded Shopify shop: the orders the demo and the tests sync.

Besides ordinary orders it mixes in, in realistic proportion, every edge case that makes
real Shopify-to-accounting integrations silently lose records. Each edge case is tagged in
the order's `tags` string (e.g. "edge:apostrophe") so tests can find them. The same seed
always yields the same shop; no wall clock is read.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from integrations_pipelines.sandbox.shopify_orders import (
    LineSpec,
    apply_cancel,
    apply_refund,
    bump_updated,
    iso,
    make_order,
    money,
    parse_time,
)

__all__ = ["EDGE_CASES", "MONEY_SHAPES", "LineSpec", "edge_tags", "generate_shop",
           "make_order"]

# edge tag -> probability per order
EDGE_CASES: dict[str, float] = {
    "apostrophe": 0.05,
    "astral_chars": 0.03,
    "long_name": 0.01,
    "long_title": 0.01,
    "missing_email": 0.05,
    "guest_checkout": 0.02,
    "discount_exceeds_total": 0.01,
    "multi_currency": 0.10,
    "refund_full": 0.03,
    "refund_partial": 0.05,
    "cancelled": 0.03,
    "no_line_items": 0.005,
}
# The money shapes that make an invoice differ from a naive sum of lines (issue "real
# orders"). They are drawn from a second random stream, so adding them left every order's
# other features (customers, lines, refunds) exactly as the seed made them before.
MONEY_SHAPES: dict[str, float] = {
    "shipping_discount": 0.05,
    "duties": 0.03,
    "additional_fee": 0.02,
    "tip": 0.04,
    "gift_card": 0.03,
    "test_order": 0.01,
}
FORCE_ALL_EDGES_FROM = 500
_EXCLUSIVE = ("refund_full", "refund_partial", "cancelled")
US_TAX_RATES = ("0.05", "0.0625", "0.08", "0.1")
VAT_RATES = ("0.2", "0.2", "0.05")  # a UK shop: standard and reduced VAT

FIRST = ["Ava", "Liam", "Noah", "Emma", "Mia", "Lucas", "Sofia", "Ethan", "Chloe", "Mateo",
         "Hana", "Omar", "Priya", "Jonas", "Lena", "Yuki", "Diego", "Amara", "Felix", "Nora"]
LAST = ["Smith", "Garcia", "Chen", "Müller", "Okafor", "Novak", "Rossi", "Kowalski", "Silva",
        "Johansson", "Nguyen", "Haddad", "Tanaka", "Dubois", "Patel", "Larsen", "Moreau"]
APOSTROPHE_LAST = ["O'Brien", "D'Angelo", "O'Neil", "D'Souza", "L'Heureux"]
APOSTROPHE_FIRST = ["D'Andre", "Ja'Nya"]
ASTRAL = ["🌸", "😀", "🚀", "\U0001d49c", "𠀋", "🦄"]  # U+1D49C: script capital A
PRODUCTS = [("Canvas Tote", "9.50", "TOTE-01"), ("Ceramic Mug", "14.00", "MUG-02"),
            ("Linen Apron", "32.00", "APRON-03"), ("Beeswax Candle", "18.75", "CANDLE-04"),
            ("Walnut Board", "48.00", "BOARD-05"), ("Tea Sampler", "22.40", "TEA-06"),
            ("Wool Socks", "12.99", "SOCK-07"), ("Notebook A5", "7.25", "NOTE-08")]
CURRENCIES = {"EUR": ("1.04", "1.12"), "GBP": ("1.22", "1.31"), "CAD": ("0.70", "0.76")}
CITIES = [("Portland", "OR", "US", "97201"), ("Austin", "TX", "US", "73301"),
          ("Lyon", "", "FR", "69001"), ("Leeds", "", "GB", "LS1"), ("Toronto", "ON", "CA", "M5H")]


def edge_tags(order: dict[str, Any]) -> set[str]:
    """The edge-case names an order is tagged with (without the "edge:" prefix)."""
    return {
        t.strip()[5:] for t in (order.get("tags") or "").split(",")
        if t.strip().startswith("edge:")
    }


def generate_shop(
    seed: int,
    start: date,
    days: int,
    orders_per_day: int,
    shop_currency: str = "USD",
    taxes_included: bool = False,
) -> list[dict[str, Any]]:
    """A shop's orders over `days` days from `start`, `orders_per_day` each day.

    Deterministic for a seed. Ids are 19-digit and increase with `created_at`; order numbers
    start at 1001. Refunds and cancellations land up to a few days after the order but
    never after the end of the generated range. In a shop of 500 or more orders every edge
    case in `EDGE_CASES` and every shape in `MONEY_SHAPES` appears at least once.
    `taxes_included` makes a VAT shop: prices contain 20% or 5% VAT.
    """
    rng = random.Random(seed)
    shapes_rng = random.Random(f"money-shapes:{seed}")
    total = days * orders_per_day
    range_end = datetime.combine(start + timedelta(days=days), time(), UTC) - timedelta(seconds=1)
    plans = [_draw_edges(rng) for _ in range(total)]
    if total >= FORCE_ALL_EDGES_FROM:
        _force_every_edge(rng, plans)
    for plan in plans:
        plan.update(name for name, p in MONEY_SHAPES.items() if shapes_rng.random() < p)
    if total >= FORCE_ALL_EDGES_FROM:
        _force_every_shape(shapes_rng, plans)
    stamps: list[datetime] = []
    for day in range(days):
        midnight = datetime.combine(start + timedelta(days=day), time(), UTC)
        seconds = sorted(rng.sample(range(86400), orders_per_day))
        stamps.extend(midnight + timedelta(seconds=s) for s in seconds)
    order_id = 5_500_000_000_000_000_000 + rng.randrange(10**15)
    customers: list[dict[str, Any]] = []
    orders = []
    for index, (created, plan) in enumerate(zip(stamps, plans, strict=True)):
        order_id += rng.randrange(10**6, 10**9)
        order = _build(rng, order_id, 1001 + index, created, plan, shop_currency, customers,
                       range_end, shapes_rng, taxes_included)
        orders.append(order)
    return orders


def _draw_edges(rng: random.Random) -> set[str]:
    edges = {name for name, p in EDGE_CASES.items() if name not in _EXCLUSIVE and rng.random() < p}
    roll, acc = rng.random(), 0.0
    for name in _EXCLUSIVE:
        acc += EDGE_CASES[name]
        if roll < acc:
            edges.add(name)
            break
    return _resolve(edges)


def _resolve(edges: set[str]) -> set[str]:
    """Drop combinations that cannot coexist on one order."""
    if "no_line_items" in edges:
        edges -= {"multi_currency", "discount_exceeds_total", "long_title", "refund_full",
                  "refund_partial"}
    if "discount_exceeds_total" in edges:
        edges -= {"refund_full", "refund_partial"}
    return edges


def _force_every_edge(rng: random.Random, plans: list[set[str]]) -> None:
    for name in EDGE_CASES:
        if any(name in plan for plan in plans):
            continue
        plain = [i for i, plan in enumerate(plans) if not plan]
        plans[rng.choice(plain or list(range(len(plans))))] = {name}


def _force_every_shape(rng: random.Random, plans: list[set[str]]) -> None:
    for name in MONEY_SHAPES:
        if not any(name in plan for plan in plans):
            ordinary = [p for p in plans if not p & {"no_line_items", "multi_currency",
                                                     "discount_exceeds_total"}]
            rng.choice(ordinary or plans).add(name)


def _person_name(rng: random.Random, plan: set[str]) -> tuple[str, str]:
    """A buyer's first and last name, carrying the name edge cases of the plan."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    if "apostrophe" in plan:
        last = rng.choice(APOSTROPHE_LAST)
        if rng.random() < 0.3:
            first = rng.choice(APOSTROPHE_FIRST)
    if "astral_in_name" in plan:
        first = f"{first} {rng.choice(ASTRAL)}"
    if "long_name" in plan:
        first = "Maximiliana-" * 22
        last = "Wolfeschlegelsteinhausenbergerdorff" * 8
    return first, last


def _customer(rng: random.Random, plan: set[str], currency: str,
              customers: list[dict[str, Any]]) -> dict[str, Any]:
    special = plan & {"apostrophe", "astral_chars", "long_name", "missing_email"}
    reusable = [c for c in customers if c["currency"] == currency]
    if not special and reusable and rng.random() < 0.25:
        return dict(rng.choice(reusable))
    first, last = _person_name(rng, plan)
    ident = 7_000_000_000_000 + rng.randrange(10**12)
    slug = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and ch.isalnum())[:30]
    email = None if "missing_email" in plan else f"{slug or 'customer'}{ident % 1000}@example.com"
    customer = {"id": ident, "email": email, "first_name": first, "last_name": last,
                "currency": currency, "state": "enabled", "verified_email": email is not None,
                "tags": ""}
    if not special:
        customers.append(customer)
    return dict(customer)


def _build(rng: random.Random, order_id: int, number: int, created: datetime, plan: set[str],
           shop_currency: str, customers: list[dict[str, Any]], range_end: datetime,
           shapes_rng: random.Random, taxes_included: bool) -> dict[str, Any]:
    pres_cur, rate = shop_currency, Decimal("1")
    if "multi_currency" in plan:
        plan.discard("tip")  # Shopify states tips in shop currency only: see the mapping
    if plan & {"no_line_items", "discount_exceeds_total"}:
        plan -= {"gift_card", "duties", "shipping_discount"}
    if plan & {"refund_full", "cancelled"}:
        # These refunds give back goods and shipping only (no refund_duties, fee or tip
        # refunds are modelled), so a "full" refund stays full only without them.
        plan -= {"duties", "additional_fee", "tip"}
    tags = [f"edge:{name}" for name in sorted(plan)]
    if "astral_chars" in plan:  # in the name, a line title, or both
        where = "name" if "no_line_items" in plan else rng.choice(["name", "title", "both"])
        plan = plan | ({"astral_in_name", "astral_in_title"} if where == "both"
                       else {f"astral_in_{where}"})
    if "multi_currency" in plan:
        pres_cur = rng.choice(sorted(c for c in CURRENCIES if c != shop_currency))
        low, high = CURRENCIES[pres_cur]
        rate = Decimal(str(round(rng.uniform(float(low), float(high)), 4)))
    lines = _lines(rng, plan)
    customer = None if "guest_checkout" in plan else _customer(rng, plan, pres_cur, customers)
    email = None if "missing_email" in plan else (
        customer["email"] if customer else f"guest{order_id % 100000}@example.com")
    discount: tuple[str, Decimal | str, str] | None = None
    items = sum((spec.price * spec.quantity for spec in lines), Decimal("0"))
    if "discount_exceeds_total" in plan:
        discount = ("IMPORTED-CREDIT", items + Decimal(rng.randrange(5, 40)), "fixed_amount")
    elif lines and rng.random() < 0.15:
        discount = rng.choice([("WELCOME10", "10", "percentage"), ("FIVEOFF", "5.00",
                                                                    "fixed_amount")])
    shipping = (Decimal(rng.choice(["4.99", "7.50", "12.00"]))
                if lines and rng.random() < 0.5 else None)
    tax_rate = (Decimal(rng.choice(US_TAX_RATES)) if rng.random() < 0.6 else None)
    if taxes_included and tax_rate is not None:  # the same draw, as a VAT rate
        tax_rate = Decimal(VAT_RATES[US_TAX_RATES.index(str(tax_rate)) % len(VAT_RATES)])
    money_shapes = _money_shapes(shapes_rng, plan, lines, shipping)
    if "shipping_discount" in plan and shipping is None:
        plan.discard("shipping_discount")
        tags.remove("edge:shipping_discount")
    if customer is None:
        first, last = _person_name(rng, plan)
        name_src = {"first_name": first, "last_name": last}
    else:
        name_src = customer
    city, province, country, zip_code = rng.choice(CITIES)
    billing = {"first_name": name_src["first_name"], "last_name": name_src["last_name"],
               "name": f"{name_src['first_name']} {name_src['last_name']}",
               "address1": f"{rng.randrange(1, 999)} Main St", "city": city,
               "province": province, "country_code": country, "zip": zip_code}
    financial = "pending" if not plan & set(_EXCLUSIVE) and rng.random() < 0.05 else "paid"
    fulfillment = rng.choice([None, "fulfilled", "fulfilled", "partial"]) if lines else None
    order = make_order(
        order_id=order_id, order_number=number, created_at=created, lines=lines,
        shop_currency=shop_currency, presentment_currency=pres_cur, rate=rate,
        customer=customer, email=email, discount=discount, shipping=shipping,
        tax_rate=tax_rate, financial_status=financial, fulfillment_status=fulfillment,
        tags=tags, billing_address=billing, taxes_included=taxes_included, **money_shapes,
    )
    _after_the_fact(rng, order, plan, created, range_end)
    return order


def _money_shapes(rng: random.Random, plan: set[str], lines: list[LineSpec],
                  shipping: Decimal | None) -> dict[str, Any]:
    """make_order arguments for the plan's money shapes; a gift card is appended to `lines`."""
    if "gift_card" in plan:
        value = rng.choice(["25.00", "50.00", "100.00"])
        lines.append(LineSpec(title=f"Gift Card ${value}", price=Decimal(value), quantity=1,
                              sku=None, product_id=8_000_000_000_099,
                              variant_id=48_000_000_000_099, taxable=False, gift_card=True))
    shapes: dict[str, Any] = {"test": "test_order" in plan}
    if "shipping_discount" in plan and shipping is not None:
        shapes["shipping_discount"] = shipping if rng.random() < 0.5 else money(shipping / 2)
    if "duties" in plan:
        shapes["duty_rate"] = rng.choice(["0.025", "0.04", "0.12"])
    if "additional_fee" in plan:
        shapes["additional_fee"] = rng.choice(["0.27", "1.50"])  # e.g. a retail delivery fee
    if "tip" in plan:
        shapes["tip"] = rng.choice(["1.00", "2.50", "5.00"])
    return shapes


def _lines(rng: random.Random, plan: set[str]) -> list[LineSpec]:
    if "no_line_items" in plan:
        return []
    count = rng.randint(2, 5) if "multi_currency" in plan else rng.randint(1, 4)
    lines = []
    for _ in range(count):
        title, price, sku = rng.choice(PRODUCTS)
        pid = 8_000_000_000_000 + PRODUCTS.index((title, price, sku))
        lines.append(LineSpec(title=title, price=Decimal(price), quantity=rng.randint(1, 5),
                              sku=sku, product_id=pid, variant_id=pid + 40_000_000_000_000,
                              taxable=rng.random() < 0.9))
    if "astral_in_title" in plan:
        lines[0].title = f"{lines[0].title} {rng.choice(ASTRAL)}"
    if "long_title" in plan:
        lines[0].title = ("Limited edition hand-thrown stoneware, glazed twice; " * 80)[:4100]
    return lines


def _after_the_fact(rng: random.Random, order: dict[str, Any], plan: set[str],
                    created: datetime, range_end: datetime) -> None:
    """Refunds, cancellations and closing, which happen after checkout."""
    def later(max_days: float) -> datetime:
        moment = created + timedelta(seconds=rng.randrange(int(max_days * 86400) + 1))
        return max(created, min(moment, range_end))

    ids = order["id"] // 1000
    total = Decimal(order["total_price_set"]["presentment_money"]["amount"])
    if "refund_full" in plan and total > 0:
        apply_refund(order, at=later(3), refund_id=ids + 500, transaction_id=ids + 600,
                     note="Customer returned everything", shipping=True,
                     lines=[(li["id"], li["quantity"]) for li in order["line_items"]])
    elif "refund_partial" in plan and total > 0 and order["line_items"]:
        first = order["line_items"][0]
        # One unit back; now and then the merchant pays back less than its value.
        short = Decimal("0.50") if rng.random() < 0.3 else Decimal(0)
        at = later(3)
        value = Decimal(apply_refund(copy.deepcopy(order), at=at, refund_id=0, transaction_id=0,
                                     lines=[(first["id"], 1)])["transactions"][0]["amount"])
        if sum(li["quantity"] for li in order["line_items"]) == 1 and not order["shipping_lines"]:
            short = (value / 2).quantize(Decimal("0.01"))  # the only unit: part of its money
        apply_refund(order, amount=max(value - short, Decimal("0.01")), at=at,
                     refund_id=ids + 500, transaction_id=ids + 600, note="Damaged in transit",
                     lines=[(first["id"], 1)])
    elif "cancelled" in plan:
        apply_cancel(order, at=later(2), reason=rng.choice(["customer", "inventory", "fraud"]),
                     refund_id=ids + 500, transaction_id=ids + 600)
    elif order["fulfillment_status"] == "fulfilled" and rng.random() < 0.3:
        closed = later(1)
        order["closed_at"] = iso(closed)
        bump_updated(order, closed)
    assert parse_time(order["updated_at"]) >= created
