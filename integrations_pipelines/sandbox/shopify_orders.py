"""Shopify order documents with Shopify's real field names and money arithmetic.

Builds one order the way the Shopify Admin REST API shows it (money as strings, `*_set`
objects in shop and presentment currency, discount allocations, tax lines) and applies the
merchant actions that change an order after the fact (refund, cancel). Used by the shop
generator, by the Shopify sandbox's admin interface and directly by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "CENT", "LineSpec", "apply_cancel", "apply_refund", "bump_updated", "fmt", "iso", "make_order",
    "money", "money_set", "parse_time", "refunded_presentment", "restate_current", "shop_rate",
]

CENT = Decimal("0.01")


def money(value: Decimal | str | int | float) -> Decimal:
    """Round to cents, half up, as shops display money."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """Shopify money string, e.g. "12.00"."""
    return str(money(value))


def iso(moment: datetime) -> str:
    """Shopify timestamp string in UTC with an explicit offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive ones are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def money_set(shop: Decimal, presentment: Decimal, shop_cur: str,
              pres_cur: str) -> dict[str, dict[str, str]]:
    """A Shopify `*_set` object: the amount in shop and in presentment currency."""
    return {
        "shop_money": {"amount": fmt(shop), "currency_code": shop_cur},
        "presentment_money": {"amount": fmt(presentment), "currency_code": pres_cur},
    }


@dataclass
class LineSpec:
    """One line a customer bought, priced in the presentment currency."""

    title: str
    price: Decimal
    quantity: int = 1
    sku: str | None = None
    taxable: bool = True
    product_id: int | None = None
    variant_id: int | None = None
    gift_card: bool = False


def make_order(
    *,
    order_id: int,
    order_number: int,
    created_at: datetime,
    lines: list[LineSpec],
    shop_currency: str = "USD",
    presentment_currency: str | None = None,
    rate: Decimal | str = "1",
    customer: dict[str, Any] | None = None,
    email: str | None = None,
    discount: tuple[str, Decimal | str, str] | None = None,
    shipping: Decimal | str | None = None,
    tax_rate: Decimal | str | None = None,
    financial_status: str = "paid",
    fulfillment_status: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
    billing_address: dict[str, Any] | None = None,
    taxes_included: bool = False,
    shipping_discount: Decimal | str | None = None,
    duty_rate: Decimal | str | None = None,
    additional_fee: Decimal | str | None = None,
    tip: Decimal | str | None = None,
    test: bool = False,
) -> dict[str, Any]:
    """Build one order as Shopify serves it.

    Amounts are computed in the presentment currency first; each component (unit price,
    discount allocation, tax, shipping, duty, fee) is converted to shop money with `rate`
    (shop units per presentment unit) and the shop totals are sums of converted components,
    so both money sets are internally consistent. `discount` is (code, value, "fixed_amount"
    or "percentage") over the goods that are not gift cards; a fixed amount may exceed the
    line total (an imported or edited order).

    The shapes that make books differ from a naive sum, as Shopify states them:
    `taxes_included` (VAT shops: line prices contain their tax, `rate/(1+rate)` of the
    discounted line); `shipping_discount` (a discount allocation on the shipping line,
    `discounted_price_set` below `price_set`); `duty_rate` (an import duty per line, in
    `line_items[].duties[]` with top-level `shop_money`/`presentment_money` and a string id,
    as the REST reference shows it); `additional_fee` (`current_total_additional_fees_set`);
    `tip` (`total_tip_received`, shop currency only); `test` (a test-mode order).
    """
    pres_cur = presentment_currency or shop_currency
    fx = Decimal(str(rate)) if pres_cur != shop_currency else Decimal("1")
    tax = Decimal(str(tax_rate)) if tax_rate is not None else None

    def conv(amount: Decimal) -> Decimal:
        return money(amount * fx)

    line_totals = [money(spec.price) * spec.quantity for spec in lines]
    items_p = sum(line_totals, Decimal("0"))
    discountable = [Decimal(0) if spec.gift_card else t for spec, t in zip(lines, line_totals,
                                                                           strict=True)]
    discount_p = Decimal("0")
    if discount is not None:
        value = Decimal(str(discount[1]))
        discount_p = (money(sum(discountable, Decimal(0)) * value / 100)
                      if discount[2] == "percentage" else money(value))
    allocations = _allocate(discount_p, discountable)
    duty = Decimal(str(duty_rate)) if duty_rate is not None else None
    duties_p, duties_s = Decimal("0"), Decimal("0")
    base = order_id // 1000
    line_items: list[dict[str, Any]] = []
    tax_by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    rows = zip(lines, line_totals, allocations, strict=True)
    for index, (spec, total_p, alloc_p) in enumerate(rows):
        price_p = money(spec.price)
        tax_p = Decimal("0")
        tax_lines = []
        if tax is not None and spec.taxable and not spec.gift_card:
            net_p = max(total_p - alloc_p, Decimal("0"))
            tax_p = money(net_p * tax / (1 + tax) if taxes_included else net_p * tax)
            tax_s = conv(tax_p)
            tax_lines.append({
                "title": "Sales Tax", "price": fmt(tax_s), "rate": float(tax),
                "price_set": money_set(tax_s, tax_p, shop_currency, pres_cur),
            })
            prev_s, prev_p = tax_by_rate.get(tax, (Decimal("0"), Decimal("0")))
            tax_by_rate[tax] = (prev_s + tax_s, prev_p + tax_p)
        alloc_s = conv(alloc_p)
        line_duties = []
        if duty is not None and not spec.gift_card:
            duty_p = money(max(total_p - alloc_p, Decimal("0")) * duty)
            duties_p, duties_s = duties_p + duty_p, duties_s + conv(duty_p)
            line_duties.append({
                "id": str(base + index + 500), "harmonized_system_code": "691200",
                "country_code_of_origin": "PT", "tax_lines": [],
                "shop_money": {"amount": fmt(conv(duty_p)), "currency_code": shop_currency},
                "presentment_money": {"amount": fmt(duty_p), "currency_code": pres_cur},
                "admin_graphql_api_id": f"gid://shopify/Duty/{base + index + 500}"})
        line_items.append({
            "id": base + index + 1,
            "admin_graphql_api_id": f"gid://shopify/LineItem/{base + index + 1}",
            "title": spec.title,
            "name": spec.title,
            "sku": spec.sku,
            "quantity": spec.quantity,
            "price": fmt(conv(price_p)),
            "price_set": money_set(conv(price_p), price_p, shop_currency, pres_cur),
            "total_discount": fmt(alloc_s),
            "total_discount_set": money_set(alloc_s, alloc_p, shop_currency, pres_cur),
            "discount_allocations": (
                [{"amount": fmt(alloc_s),
                  "amount_set": money_set(alloc_s, alloc_p, shop_currency, pres_cur),
                  "discount_application_index": 0}] if alloc_p else []
            ),
            "tax_lines": tax_lines,
            "duties": line_duties,
            "taxable": spec.taxable and not spec.gift_card,
            "gift_card": spec.gift_card,
            "product_id": spec.product_id,
            "variant_id": spec.variant_id,
            "requires_shipping": not spec.gift_card,
            "fulfillable_quantity": spec.quantity,
        })
    items_s = sum((money(li["price"]) * li["quantity"] for li in line_items), Decimal("0"))
    discount_s = sum((money(li["total_discount"]) for li in line_items), Decimal("0"))
    tax_p_total = sum((p for _, p in tax_by_rate.values()), Decimal("0"))
    tax_s_total = sum((s for s, _ in tax_by_rate.values()), Decimal("0"))
    ship_p = money(shipping) if shipping is not None else Decimal("0")
    ship_s = conv(ship_p)
    ship_off_p = min(money(shipping_discount), ship_p) if shipping_discount else Decimal("0")
    ship_off_s = conv(ship_off_p)
    shipping_lines = []
    if shipping is not None:
        net_s, net_p = ship_s - ship_off_s, ship_p - ship_off_p
        shipping_lines.append({
            "id": base + 900, "title": "Standard Shipping", "code": "STANDARD",
            "price": fmt(ship_s), "price_set": money_set(ship_s, ship_p, shop_currency, pres_cur),
            "discounted_price": fmt(net_s),
            "discounted_price_set": money_set(net_s, net_p, shop_currency, pres_cur),
            "discount_allocations": (
                [{"amount": fmt(ship_off_s),
                  "amount_set": money_set(ship_off_s, ship_off_p, shop_currency, pres_cur),
                  "discount_application_index": 1}] if ship_off_p else []),
            "source": "shopify", "tax_lines": [],
        })
    fee_p = money(additional_fee) if additional_fee is not None else Decimal("0")
    fee_s = conv(fee_p)
    if tip is not None and pres_cur != shop_currency:
        raise ValueError("Shopify states tips in the shop currency: tip only shop-currency "
                         "orders")
    tip_p = money(tip) if tip is not None else Decimal("0")
    subtotal_p, subtotal_s = items_p - discount_p, items_s - discount_s
    extra_p, extra_s = (ship_p - ship_off_p + duties_p + fee_p + tip_p,
                        ship_s - ship_off_s + duties_s + fee_s + tip_p)
    total_p = subtotal_p + extra_p + (Decimal(0) if taxes_included else tax_p_total)
    total_s = subtotal_s + extra_s + (Decimal(0) if taxes_included else tax_s_total)
    discounts_p, discounts_s = discount_p + ship_off_p, discount_s + ship_off_s
    stamp = iso(created_at)
    cust = dict(customer) if customer is not None else None
    if cust is not None:
        cust.setdefault("currency", pres_cur)
        cust.setdefault("admin_graphql_api_id", f"gid://shopify/Customer/{cust.get('id')}")
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_number}",
        "order_number": order_number,
        "number": order_number - 1000,
        "email": email,
        "contact_email": email,
        "created_at": stamp,
        "updated_at": stamp,
        "processed_at": stamp,
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": None,
        "currency": shop_currency,
        "presentment_currency": pres_cur,
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "taxes_included": taxes_included,
        "tags": ", ".join(tags),
        "test": test,
        "total_line_items_price": fmt(items_s),
        "total_line_items_price_set": money_set(items_s, items_p, shop_currency, pres_cur),
        "total_discounts": fmt(discounts_s),
        "total_discounts_set": money_set(discounts_s, discounts_p, shop_currency, pres_cur),
        "subtotal_price": fmt(subtotal_s),
        "subtotal_price_set": money_set(subtotal_s, subtotal_p, shop_currency, pres_cur),
        "total_shipping_price_set": money_set(ship_s, ship_p, shop_currency, pres_cur),
        "total_tax": fmt(tax_s_total),
        "total_tax_set": money_set(tax_s_total, tax_p_total, shop_currency, pres_cur),
        "total_price": fmt(total_s),
        "total_price_set": money_set(total_s, total_p, shop_currency, pres_cur),
        "current_total_price": fmt(total_s),
        "current_total_price_set": money_set(total_s, total_p, shop_currency, pres_cur),
        "current_subtotal_price": fmt(subtotal_s),
        "current_subtotal_price_set": money_set(subtotal_s, subtotal_p, shop_currency,
                                                pres_cur),
        "current_total_tax": fmt(tax_s_total),
        "current_total_tax_set": money_set(tax_s_total, tax_p_total, shop_currency, pres_cur),
        "discount_codes": (
            [{"code": discount[0], "amount": fmt(discount_s), "type": discount[2]}]
            if discount is not None else []
        ),
        **_extras(duties_s, duties_p, fee_s, fee_p, tip_p, shop_currency, pres_cur),
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "tax_lines": [
            {"title": "Sales Tax", "price": fmt(s), "rate": float(r),
             "price_set": money_set(s, p, shop_currency, pres_cur)}
            for r, (s, p) in tax_by_rate.items()
        ],
        "customer": cust,
        "billing_address": billing_address,
        "refunds": [],
    }


def _extras(duties_s: Decimal, duties_p: Decimal, fee_s: Decimal, fee_p: Decimal,
            tip: Decimal, shop_cur: str, pres_cur: str) -> dict[str, Any]:
    """Duties, additional fees and tips as the order states them (original and current)."""
    duties = money_set(duties_s, duties_p, shop_cur, pres_cur) if duties_p else None
    fees = money_set(fee_s, fee_p, shop_cur, pres_cur) if fee_p else None
    return {"original_total_duties_set": duties, "current_total_duties_set": duties,
            "original_total_additional_fees_set": fees,
            "current_total_additional_fees_set": fees, "total_tip_received": fmt(tip)}


def _allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split a discount across lines in proportion to their totals, the remainder on the last
    line that takes a share (lines of weight 0, gift cards, take none)."""
    basis = sum(weights, Decimal("0"))
    shares = [money(total * w / basis) if basis else Decimal("0") for w in weights]
    last = max((i for i, w in enumerate(weights) if w), default=len(weights) - 1)
    if last >= 0:
        shares[last] += total - sum(shares, Decimal("0"))
    return shares


def shop_rate(order: dict[str, Any]) -> Decimal:
    """Shop units per presentment unit, as implied by the order's totals."""
    pres = Decimal(order["total_price_set"]["presentment_money"]["amount"])
    shop = Decimal(order["total_price_set"]["shop_money"]["amount"])
    return shop / pres if pres else Decimal("1")


def refunded_presentment(order: dict[str, Any]) -> Decimal:
    """What has been refunded so far, in presentment currency (money, not goods)."""
    return sum(
        (Decimal(t["amount"]) for r in order.get("refunds") or []
         for t in r.get("transactions", []) if t.get("kind") == "refund"),
        Decimal("0"),
    )


def _pres(money_set_: dict[str, Any]) -> Decimal:
    return Decimal(str(money_set_["presentment_money"]["amount"]))


def _refunded_units(order: dict[str, Any]) -> dict[int, int]:
    taken: dict[int, int] = {}
    for refund in order.get("refunds") or []:
        for item in refund.get("refund_line_items") or []:
            taken[item["line_item_id"]] = taken.get(item["line_item_id"], 0) + item["quantity"]
    return taken


def _unit_value(line: dict[str, Any], quantity: int) -> tuple[Decimal, Decimal]:
    """Subtotal (after the line's discounts) and tax of `quantity` units of a line, as
    Shopify prorates them."""
    alloc = sum((_pres(a["amount_set"]) for a in line.get("discount_allocations") or []),
                Decimal("0"))
    net = _pres(line["price_set"]) * line["quantity"] - alloc
    tax = sum((_pres(t["price_set"]) for t in line.get("tax_lines") or []), Decimal("0"))
    share = Decimal(quantity) / Decimal(line["quantity"])
    return money(net * share), money(tax * share)


def apply_refund(
    order: dict[str, Any],
    *,
    amount: Decimal | str | None = None,
    at: datetime,
    refund_id: int,
    transaction_id: int,
    note: str | None = None,
    lines: list[tuple[int, int]] | None = None,
    shipping: bool = False,
) -> dict[str, Any]:
    """Record a refund the way Shopify shows it: goods taken back, and money paid back.

    `lines` are (line item id, quantity) taken back; with none given, whole units are taken
    from the last lines until their value covers `amount`. `shipping` takes back what is left
    of the shipping (a `refund_shipping_lines` entry and, as Shopify still sends it, the
    `shipping_refund` adjustment). Refund line money is JSON numbers. The money refunded is
    `amount` when given, else the goods' value; a difference is a `refund_discrepancy`
    adjustment (goods value minus money refunded), which changes no current total.
    Shopify's current totals are restated; `financial_status` and `updated_at` move on.
    """
    pres_cur, shop_cur = order["presentment_currency"], order["currency"]
    rate = shop_rate(order)
    taken = _refunded_units(order)
    wanted = money(amount) if amount is not None else None
    chosen = list(lines or [])
    if not chosen and wanted is not None:
        covered = Decimal("0")
        for line in reversed(order["line_items"]):
            left = line["quantity"] - taken.get(line["id"], 0)
            for _ in range(left):
                if covered >= wanted:
                    break
                sub, tax = _unit_value(line, 1)
                covered += sub + (Decimal("0") if order.get("taxes_included") else tax)
                chosen.append((line["id"], 1))
    by_id = {li["id"]: li for li in order["line_items"]}
    items, goods = [], Decimal("0")
    for index, (line_id, quantity) in enumerate(chosen):
        sub, tax = _unit_value(by_id[line_id], quantity)
        goods += sub + (Decimal("0") if order.get("taxes_included") else tax)
        items.append({"id": refund_id * 10 + index, "line_item_id": line_id,
                      "quantity": quantity, "restock_type": "return",
                      "subtotal": float(sub), "total_tax": float(tax),
                      "subtotal_set": money_set(money(sub * rate), sub, shop_cur, pres_cur),
                      "total_tax_set": money_set(money(tax * rate), tax, shop_cur, pres_cur)})
    shipping_lines, adjustments = [], []
    if shipping:
        for ship in order.get("shipping_lines") or []:
            left = _shipping_left(order, ship)
            if left:
                goods += left
                shipping_lines.append({"id": refund_id * 10 + 7, "shipping_line_id": ship["id"],
                                       "subtotal_amount_set": money_set(
                                           money(left * rate), left, shop_cur, pres_cur)})
                adjustments.append(_adjustment(refund_id, order, "shipping_refund", -left,
                                               rate))
    paid_back = wanted if wanted is not None else goods
    if paid_back != goods:
        adjustments.append(_adjustment(refund_id, order, "refund_discrepancy",
                                       goods - paid_back, rate))
    refund = {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order["id"],
        "created_at": iso(at),
        "processed_at": iso(at),
        "note": note,
        "restock": bool(items),
        "refund_line_items": items,
        "refund_shipping_lines": shipping_lines,
        "order_adjustments": adjustments,
        "transactions": [{
            "id": transaction_id,
            "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}",
            "order_id": order["id"], "kind": "refund", "gateway": "shopify_payments",
            "status": "success", "amount": fmt(paid_back), "currency": pres_cur,
            "created_at": iso(at), "processed_at": iso(at),
        }],
    }
    order.setdefault("refunds", []).append(refund)
    restate_current(order)
    order["financial_status"] = (  # a payment status: money paid back against money paid
        "refunded" if refunded_presentment(order) >= _pres(order["total_price_set"])
        else "partially_refunded")
    bump_updated(order, at)
    return refund


def _adjustment(refund_id: int, order: dict[str, Any], kind: str, amount: Decimal,
                rate: Decimal) -> dict[str, Any]:
    shop_cur, pres_cur = order["currency"], order["presentment_currency"]
    return {"id": refund_id * 10 + (8 if kind == "shipping_refund" else 9),
            "order_id": order["id"], "refund_id": refund_id, "kind": kind,
            "reason": "Shipping refund" if kind == "shipping_refund" else "Refund discrepancy",
            "amount": fmt(amount), "tax_amount": "0.00",
            "amount_set": money_set(money(amount * rate), amount, shop_cur, pres_cur),
            "tax_amount_set": money_set(Decimal("0"), Decimal("0"), shop_cur, pres_cur)}


def _shipping_left(order: dict[str, Any], ship: dict[str, Any]) -> Decimal:
    price = _pres(ship.get("discounted_price_set") or ship["price_set"])
    back = sum((_pres(r["subtotal_amount_set"]) for refund in order.get("refunds") or []
                for r in refund.get("refund_shipping_lines") or []
                if r["shipping_line_id"] == ship["id"]), Decimal("0"))
    return price - back


def restate_current(order: dict[str, Any]) -> None:
    """Shopify's current totals after refunds: what is left of each line and of shipping."""
    taken = _refunded_units(order)
    subtotal, tax = Decimal("0"), Decimal("0")
    for line in order["line_items"]:
        left = line["quantity"] - taken.get(line["id"], 0)
        sub_all, tax_all = _unit_value(line, line["quantity"])
        sub_back, tax_back = (Decimal("0"), Decimal("0"))
        for refund in order.get("refunds") or []:
            for item in refund.get("refund_line_items") or []:
                if item["line_item_id"] == line["id"]:
                    sub_back += Decimal(str(item["subtotal"]))
                    tax_back += Decimal(str(item["total_tax"]))
        subtotal += sub_all - sub_back if left >= 0 else Decimal("0")
        tax += tax_all - tax_back
    shipping = sum((_shipping_left(order, s) for s in order.get("shipping_lines") or []),
                   Decimal("0"))
    # Duties, fees and tips stay unless refunded themselves (which these refunds never do).
    kept = sum((_pres(order[name]) for name in ("current_total_duties_set",
                                                 "current_total_additional_fees_set")
                if order.get(name)), Decimal("0")) + Decimal(order.get("total_tip_received")
                                                             or "0")
    total = subtotal + shipping + kept + (Decimal("0") if order.get("taxes_included") else tax)
    rate = shop_rate(order)
    shop_cur, pres_cur = order["currency"], order["presentment_currency"]
    for name, value in (("current_total_price", total), ("current_subtotal_price", subtotal),
                        ("current_total_tax", tax)):
        order[name] = fmt(money(value * rate))
        order[f"{name}_set"] = money_set(money(value * rate), value, shop_cur, pres_cur)


def apply_cancel(
    order: dict[str, Any],
    *,
    at: datetime,
    reason: str = "customer",
    refund_id: int,
    transaction_id: int,
) -> dict[str, Any]:
    """Cancel an order as a merchant would in the Shopify admin.

    An unpaid order becomes `voided`; a paid one is refunded for what is left (a refund is
    appended) and becomes `refunded`. The order is closed and `updated_at` bumped.
    """
    if order.get("financial_status") in ("pending", "authorized", "voided"):
        order["financial_status"] = "voided"
    else:
        taken = _refunded_units(order)
        left = [(li["id"], li["quantity"] - taken.get(li["id"], 0)) for li in order["line_items"]
                if li["quantity"] - taken.get(li["id"], 0) > 0]
        if left or order.get("shipping_lines"):
            apply_refund(order, at=at, refund_id=refund_id, transaction_id=transaction_id,
                         note="Order canceled", lines=left, shipping=True)
        order["financial_status"] = "refunded"
    order["cancelled_at"] = iso(at)
    order["cancel_reason"] = reason
    order["closed_at"] = iso(at)
    bump_updated(order, at)
    return order


def bump_updated(order: dict[str, Any], at: datetime) -> None:
    """Move `updated_at` forward to `at` (never backwards, never before `created_at`)."""
    current = parse_time(order.get("updated_at") or order["created_at"])
    order["updated_at"] = iso(max(current, at, parse_time(order["created_at"])))
