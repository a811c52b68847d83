"""What a Shopify order is worth now, line by line, in the customer's (presentment) currency.

Shopify states an order's current value itself (`current_total_price_set`,
`current_total_tax_set`: after refunds, returns and edits). Every destination mapping needs
the same breakdown of that value into lines, and this module is the one place that reads it
from Shopify's shapes:

- a line item is worth `price x quantity` minus its `discount_allocations`, minus what its
  refunds took back (`refund_line_items[].subtotal`, a JSON number, after the line's
  discounts); its tax is its `tax_lines` minus the refunds' `total_tax`;
- a shipping line is worth its discounted price (shipping discounts included) minus what was
  refunded: `refund_shipping_lines` (API 2024-10 and later) or, before that, the refund's
  `shipping_refund` order adjustment (negative amount, with its `tax_amount`);
- duties, additional fees and tips are lines of their own, from Shopify's current totals;
- a `refund_discrepancy` adjustment is money refunded differently from the goods' value: a
  payment matter that does not change what was sold, so it changes no line;
- with `taxes_included` the line amounts contain their tax.

`order_money` checks the breakdown against Shopify's stated current total and tax to the
cent. Where they disagree it returns the reason instead: the books then get a dead letter,
never an invoice that differs from what Shopify says the order is worth. A cancelled order is
broken down as sold (before refunds): it becomes a voided document.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from integrations_pipelines.vendors.shopify.models import (
    MoneySet,
    Order,
    Refund,
    RefundMoneySet,
    TaxLine,
)

__all__ = ["MoneyLine", "MoneyProblem", "OrderMoney", "order_money", "refund_money",
           "refusal"]

ZERO = Decimal(0)
LineKind = Literal["item", "gift_card", "shipping", "duty", "fee", "tip"]


@dataclass(frozen=True)
class MoneyLine:
    """One line of the order's current value. `amount` is on the shop's tax basis (tax
    inside it when `taxes_included`); `rate` is the combined rate of its tax lines."""

    kind: LineKind
    description: str
    quantity: int
    amount: Decimal
    tax: Decimal
    rate: Decimal | None
    unit_price: Decimal | None = None  # the price before discounts (items, shipping)


@dataclass(frozen=True)
class OrderMoney:
    """The order's value as Shopify states it, and its breakdown into lines."""

    currency: str
    taxes_included: bool
    lines: tuple[MoneyLine, ...]
    total: Decimal
    tax: Decimal

    def net(self, line: MoneyLine) -> Decimal:
        """A line's amount without its tax."""
        return line.amount - line.tax if self.taxes_included else line.amount


@dataclass(frozen=True)
class MoneyProblem:
    """Why an order's value cannot be broken down exactly (a dead-letter reason)."""

    code: str
    reason: str


def _pres(money: MoneySet | RefundMoneySet | None, fallback: Decimal = ZERO) -> Decimal:
    return money.presentment_money.amount if money is not None else fallback


def _tax(lines: list[TaxLine]) -> tuple[Decimal, Decimal | None]:
    amount = sum((_pres(t.price_set, t.price) for t in lines), ZERO)
    rates = [Decimal(str(t.rate)) for t in lines if t.rate is not None]
    return amount, (sum(rates, ZERO).normalize() if rates else None)


def _refunded_items(refunds: list[Refund]) -> dict[int, tuple[int, Decimal, Decimal]]:
    taken: dict[int, tuple[int, Decimal, Decimal]] = defaultdict(lambda: (0, ZERO, ZERO))
    for refund in refunds:
        for item in refund.refund_line_items:
            qty, subtotal, tax = taken[item.line_item_id]
            taken[item.line_item_id] = (
                qty + item.quantity, subtotal + _pres(item.subtotal_set, item.subtotal),
                tax + _pres(item.total_tax_set, item.total_tax))
    return taken


def _refunded_shipping(refunds: list[Refund]) -> tuple[dict[int | None, Decimal], Decimal]:
    """Shipping refunded per shipping line id (None: not said), and its known tax."""
    amounts: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    tax = ZERO
    for refund in refunds:
        if refund.refund_shipping_lines:
            for line in refund.refund_shipping_lines:
                amounts[line.shipping_line_id] += _pres(line.subtotal_amount_set)
            continue
        for adjustment in refund.order_adjustments:
            if adjustment.kind == "shipping_refund":  # negative amounts: money given back
                amounts[None] -= _pres(adjustment.amount_set, adjustment.amount)
                tax -= _pres(adjustment.tax_amount_set, adjustment.tax_amount)
    return amounts, tax


def _item_lines(order: Order, refunds: list[Refund]) -> list[MoneyLine]:
    taken = _refunded_items(refunds)
    lines = []
    for li in order.line_items:
        allocated = sum((_pres(a.amount_set, a.amount) for a in li.discount_allocations), ZERO)
        tax, rate = _tax(li.tax_lines)
        qty, subtotal, refunded_tax = taken.get(li.id, (0, ZERO, ZERO))
        amount = _pres(li.price_set) * li.quantity - allocated - subtotal
        lines.append(MoneyLine("gift_card" if li.gift_card else "item", li.title,
                               li.quantity - qty, amount, tax - refunded_tax, rate,
                               _pres(li.price_set)))
    return lines


def _shipping_lines(order: Order, refunds: list[Refund]) -> list[MoneyLine]:
    refunded, refunded_tax = _refunded_shipping(refunds)
    lines = []
    for ship in (s for s in order.shipping_lines if not s.is_removed):
        allocated = sum((_pres(a.amount_set, a.amount) for a in ship.discount_allocations),
                        ZERO)
        price = _pres(ship.price_set)
        discounted = _pres(ship.discounted_price_set, price - allocated)
        tax, rate = _tax(ship.tax_lines)
        back = refunded.pop(ship.id, ZERO) + refunded.pop(None, ZERO)
        if back and discounted and not refunded_tax:
            # refund_shipping_lines carry no tax: the line keeps its share of what is left.
            tax = (tax * (discounted - back) / discounted).quantize(Decimal("0.01"))
        lines.append(MoneyLine("shipping", ship.title or "Shipping", 1, discounted - back,
                               tax - refunded_tax, rate, price))
        refunded_tax = ZERO
    return lines


def _extra_lines(order: Order, sold: bool) -> list[MoneyLine] | MoneyProblem:
    """Duties, additional fees and tips, from Shopify's own totals (as sold, or now)."""
    duty_list = [d for li in order.line_items for d in li.duties]
    duties = sum((d.presentment for d in duty_list), ZERO)
    duty_tax, duty_rate = _tax([t for d in duty_list for t in d.tax_lines])
    if not sold and order.current_total_duties_set is not None:
        now = _pres(order.current_total_duties_set)
        if duties:  # refunded duties take their tax back in proportion
            duty_tax = (duty_tax * now / duties).quantize(Decimal("0.01"))
        duties = now
    fees_set = (order.original_total_additional_fees_set
                if sold and order.original_total_additional_fees_set is not None
                else order.current_total_additional_fees_set)
    fees = _pres(fees_set)
    tip = order.total_tip_received or ZERO
    if tip and order.presentment_currency != order.currency:
        return MoneyProblem("tip_currency_unknown", f"a tip of {tip} {order.currency} on an "
                            f"order in {order.presentment_currency}: Shopify states tips in "
                            "the shop currency only, so the invoice cannot be exact")
    extras: tuple[tuple[LineKind, str, Decimal, Decimal, Decimal | None], ...] = (
        ("duty", "Duties", duties, duty_tax, duty_rate),
        ("fee", "Additional fees", fees, ZERO, None), ("tip", "Tip", tip, ZERO, None))
    return [MoneyLine(kind, title, 1, amount, tax, rate)
            for kind, title, amount, tax, rate in extras if amount]


def _stated(order: Order, sold: bool) -> tuple[Decimal, Decimal] | MoneyProblem:
    if sold or (order.current_total_price_set is None and not order.refunds):
        return _pres(order.total_price_set), _pres(order.total_tax_set)
    if order.current_total_price_set is None or order.current_total_tax_set is None:
        return MoneyProblem("no_current_totals", "the order has refunds but no "
                            "current_total_price_set/current_total_tax_set: request a newer "
                            "Shopify API version")
    return _pres(order.current_total_price_set), _pres(order.current_total_tax_set)


def order_money(order: Order, *, as_sold: bool = False) -> OrderMoney | MoneyProblem:
    """The order's current value in lines, exact to the cent, or why it is not; with
    `as_sold`, its value when it was sold (before refunds: destinations that book refunds as
    documents of their own, such as Xero's credit notes)."""
    sold = as_sold or order.cancelled_at is not None  # a voided document keeps what was sold
    refunds = [] if sold else list(order.refunds)
    stated = _stated(order, sold)
    extra = _extra_lines(order, sold)
    if isinstance(stated, MoneyProblem):
        return stated
    if isinstance(extra, MoneyProblem):
        return extra
    lines = [*_item_lines(order, refunds), *_shipping_lines(order, refunds), *extra]
    total, tax = stated
    line_tax = sum((ln.tax for ln in lines), ZERO)
    if line_tax != tax:
        return MoneyProblem("tax_disagrees", f"the lines' tax adds up to {line_tax} "
                            f"{order.presentment_currency}, Shopify states {tax}")
    computed = sum((ln.amount for ln in lines), ZERO) + (ZERO if order.taxes_included else tax)
    if computed != total:
        return MoneyProblem("totals_disagree", f"the lines add up to {computed} "
                            f"{order.presentment_currency}, Shopify states {total}")
    return OrderMoney(order.presentment_currency, order.taxes_included, tuple(lines), total,
                      tax)


def refusal(order: Order) -> MoneyProblem | None:
    """Why an order's own figures cannot make an accounting document, if they cannot: no
    line items, money sets in another currency than the presentment one, or a discount
    larger than the goods (a negative document)."""
    if not order.line_items:
        return MoneyProblem("no_line_items", "the order has no line items to invoice")
    currency = order.presentment_currency
    sets = (order.total_price_set, order.subtotal_price_set, order.total_tax_set,
            order.total_discounts_set)
    if any(s.presentment_money.currency_code != currency for s in sets):
        return MoneyProblem(
            "currency_mismatch", "presentment money sets disagree with presentment_currency")
    # total_discounts includes shipping discounts; only the goods' discounts can exceed them.
    shipping_off = sum((a.amount_set.presentment_money.amount if a.amount_set else a.amount
                        for s in order.shipping_lines for a in s.discount_allocations), ZERO)
    discount = order.total_discounts_set.presentment_money.amount - shipping_off
    goods = sum((li.price_set.presentment_money.amount * li.quantity
                 for li in order.line_items), ZERO)
    if discount > goods:
        return MoneyProblem(
            "discount_exceeds_total",
            f"discount {discount} {currency} exceeds the line items' total {goods}; "
            "the books reject a negative invoice. Fix the order in Shopify, then replay.")
    return None


def refund_money(order: Order, refund: Refund) -> tuple[MoneyLine, ...]:
    """What one refund gave back, line by line, on the shop's tax basis: each refunded line
    item (its `subtotal` and `total_tax`, at the line's tax rate) and refunded shipping
    (`refund_shipping_lines`, whose tax is the shipping line's share, or the
    `shipping_refund` adjustment with its own tax). A `refund_discrepancy` gives money back
    without taking goods back: it changes no line."""
    items = {li.id: li for li in order.line_items}
    lines: list[MoneyLine] = []
    for taken in refund.refund_line_items:
        item = items.get(taken.line_item_id)
        rate = _tax(item.tax_lines)[1] if item is not None else None
        lines.append(MoneyLine(
            "gift_card" if item is not None and item.gift_card else "item",
            item.title if item is not None else f"line item {taken.line_item_id}",
            taken.quantity, _pres(taken.subtotal_set, taken.subtotal),
            _pres(taken.total_tax_set, taken.total_tax), rate))
    ships = {s.id: s for s in order.shipping_lines}
    for back in refund.refund_shipping_lines:
        ship = ships.get(back.shipping_line_id)
        amount = _pres(back.subtotal_amount_set)
        tax, rate = _tax(ship.tax_lines) if ship is not None else (ZERO, None)
        price = _pres(ship.discounted_price_set, _pres(ship.price_set)) if ship else ZERO
        share = (tax * amount / price).quantize(Decimal("0.01")) if price else ZERO
        lines.append(MoneyLine("shipping", "Shipping refund", 1, amount, share, rate))
    if not refund.refund_shipping_lines:
        rate = next((r for s in order.shipping_lines for r in [_tax(s.tax_lines)[1]]
                     if r is not None), None)
        for adjustment in refund.order_adjustments:
            if adjustment.kind == "shipping_refund":  # negative amounts: money given back
                lines.append(MoneyLine(
                    "shipping", "Shipping refund", 1,
                    -_pres(adjustment.amount_set, adjustment.amount),
                    -_pres(adjustment.tax_amount_set, adjustment.tax_amount), rate))
    return tuple(line for line in lines if line.amount or line.tax)
