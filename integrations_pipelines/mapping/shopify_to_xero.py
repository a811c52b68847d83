"""Shopify order -> Xero documents: every booking decision, explicit.

The invoice is the order as sold; what happened after is documents of its own, the way a
bookkeeper on Xero records it:
- An order becomes an ACCREC invoice numbered "S<order number>" (the external key), dated
  on its creation day in the integration's timezone, in the order's presentment currency
  (no `CurrencyRate`: Xero applies its own daily rate), `Reference`
  "shopify:order:<id> <name>" (the marker that says this integration wrote it), billed to a
  contact named after the customer with the tag "[shopify:<customer id>]".
- `LineAmountTypes` follows the shop's tax setting: Inclusive for a tax-inclusive (UK)
  shop, Exclusive otherwise. One line per line item at its sold quantity and unit price,
  its discount allocations as the line's `DiscountAmount`; shipping as a line at its price
  less its shipping discount; duties, additional fees and tips as lines of their own;
  gift-card sales to the gift-card liability account (catalog `shopify.gift_cards`).
- VAT per line from the catalog (`xero.tax_types` by Shopify's rate: standard, reduced,
  zero-rated; `untaxed_tax_type` for an exempt product, `outside_tax_type` for what is
  outside VAT), with Shopify's own tax amount on the line (`TaxAmount`), so Xero's
  `TotalTax` is the tax Shopify charged.
- Each refund becomes an ACCRECCREDIT credit note "S<number>-R<refund id>" with its
  refunded lines and their VAT (a partial refund credits only what it gave back), allocated
  to the invoice. The invoice less its credit notes must equal Shopify's current total to
  the cent, or the order is a dead letter saying by how much (a refund of duties or fees,
  a refund discrepancy): never booked with another total.
- The clearing account receives what the shop actually received: the order's current
  total less Shopify's `total_outstanding` (shop currency, converted at the order's own
  presentment/shop ratio), so a `partially_paid` order is a partial payment and its
  invoice stays AUTHORISED with the rest due. Without `total_outstanding` (older payloads)
  a paid order (financial_status paid, partially_refunded or refunded) is paid for what it
  still holds and any other stays unpaid; a `partially_paid` order without it is a dead
  letter (what was received is unknown). A cancelled order voids its invoice (deletes a
  draft), as sold.
- Test orders are skipped by default (catalog `shopify.test_orders`).
Text: characters Xero refuses (emoji and other 4-byte UTF-8, control characters) are
spelled out by the shared rule (`text.fit(..., spell=True)`: "Mug [UNICORN FACE]"), so
nothing is silently dropped; each changed text is named with its original in the draft's
`normalised` (the evidence a reconciliation shows). A document Xero still refuses is a dead
letter with Xero's own message.
Rejected, with a reason: no line items; a discount larger than the goods; money sets in
another currency; a tax rate the catalog has no tax type for; figures that do not add up.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from integrations_pipelines.mapping.shopify_money import (
    MoneyLine,
    MoneyProblem,
    order_money,
    refund_money,
    refusal,
)
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry, XeroOptions
from integrations_pipelines.mapping.text import fit
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import business_date
from integrations_pipelines.vendors.xero.drafts import CreditNoteDraft, XeroInvoiceDraft, XeroLine

__all__ = ["ORDER_MARKER", "PAID_STATUSES", "contact_tag", "external_key", "map_order",
           "received"]

ORDER_MARKER = "shopify:order:"
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
DESCRIPTION_MAX = 4000
CONTACT_MAX = 255
ZERO = Decimal(0)
CENT = Decimal("0.01")


def external_key(order: Order) -> str:
    """The invoice's InvoiceNumber: how the order is found in Xero."""
    return f"S{order.order_number}"


def contact_tag(order: Order) -> str:
    """The stable tag at the end of the order's contact name."""
    return f"[shopify:{order.customer.id if order.customer is not None else 'guest'}]"


class _Texts:
    """The texts of one order as Xero takes them, remembering what had to change."""

    def __init__(self) -> None:
        self.changed: dict[str, str] = {}

    def __call__(self, text: str, max_len: int, where: str) -> str:
        shown = fit(text, max_len, spell=True)
        if shown != text:
            self.changed[where] = text
        return shown


def _contact(order: Order, texts: _Texts) -> str:
    tag, c = contact_tag(order), order.customer
    if c is None:
        return f"Shopify guest {tag}"
    full = " ".join(p for p in (c.first_name, c.last_name) if p)
    name = full or c.email or order.email or "Shopify customer"
    return f"{texts(name, CONTACT_MAX - len(tag) - 1, 'contact') or 'Shopify customer'} {tag}"


def _tax_type(line: MoneyLine, options: XeroOptions) -> str | MappingRejected:
    if line.kind in ("gift_card", "tip", "fee") and not line.tax:
        return options.outside_tax_type
    if line.rate is None or (not line.tax and line.rate == 0 and "0" not in options.tax_types):
        return options.untaxed_tax_type
    tax_type = options.tax_types.get(str(line.rate))
    if tax_type is None:
        return MappingRejected("unmapped_tax_rate", f"no Xero tax type for Shopify's tax rate "
                               f"{line.rate} ({line.description}): add it to the catalog's "
                               "xero.tax_types, then replay")
    return tax_type


def _account(line: MoneyLine, entry: ShopifyToXeroEntry) -> str:
    options = entry.xero
    if line.kind == "gift_card" and entry.shopify.gift_cards == "liability_item":
        return options.gift_card_account
    return {"item": options.sales_account, "gift_card": options.sales_account,
            "shipping": options.shipping_account, "duty": options.duty_account,
            "tip": options.tip_account, "fee": options.fee_account}[line.kind]


def _lines(money_lines: tuple[MoneyLine, ...], entry: ShopifyToXeroEntry, texts: _Texts,
           where: str) -> tuple[XeroLine, ...] | MappingRejected:
    lines: list[XeroLine] = []
    for n, line in enumerate(money_lines):
        if not line.amount and not line.tax and line.kind not in ("item", "gift_card"):
            continue  # never charged: nothing to book
        tax_type = _tax_type(line, entry.xero)
        if isinstance(tax_type, MappingRejected):
            return tax_type
        quantity = max(line.quantity, 1)
        unit = line.unit_price
        if unit is None or unit * quantity < line.amount:
            # No price before discounts (refunds, duties, fees): the amount is the line.
            unit, quantity = line.amount, 1
        description = texts(line.description, DESCRIPTION_MAX, f"{where}[{n}]") or "Item"
        lines.append(XeroLine(description, quantity, unit, unit * quantity - line.amount,
                              _account(line, entry), tax_type, line.tax))
    return tuple(lines)


def _credit_notes(order: Order, entry: ShopifyToXeroEntry, texts: _Texts
                  ) -> tuple[CreditNoteDraft, ...] | MappingRejected:
    notes = []
    for refund in sorted(order.refunds, key=lambda r: (r.created_at, r.id)):
        built = _lines(refund_money(order, refund), entry, texts, f"refund {refund.id}")
        if isinstance(built, MappingRejected):
            return built
        if built:
            day = refund.created_at.astimezone(ZoneInfo(entry.timezone)).date()
            notes.append(CreditNoteDraft(
                f"{external_key(order)}-R{refund.id}", str(refund.id),
                max(day, business_date(order, entry.timezone)), built, order.taxes_included))
    return tuple(notes)


def _current_total(order: Order) -> Decimal:
    money = order.current_total_price_set or order.total_price_set
    return money.presentment_money.amount


def received(order: Order, holds: Decimal) -> Decimal | None:
    """What the shop received for an order that now holds `holds` (presentment currency):
    `holds` less Shopify's `total_outstanding`, which Shopify states in the shop's currency
    (converted at the ratio of the order's own current totals); None when Shopify states
    no outstanding amount."""
    text = (order.model_extra or {}).get("total_outstanding")
    if text is None:
        return None
    owed = Decimal(str(text))
    if order.presentment_currency != order.currency:
        money = order.current_total_price_set or order.total_price_set
        shop = money.shop_money.amount
        owed = (owed * money.presentment_money.amount / shop).quantize(CENT) if shop else ZERO
    return holds - min(max(owed, ZERO), holds)


def _paid(order: Order, holds: Decimal) -> Decimal | MappingRejected:
    got = received(order, holds)
    if got is not None:
        return got
    if order.financial_status == "partially_paid":
        return MappingRejected(
            "unknown_payment", "Shopify says the order is partially paid but states no "
            "total_outstanding: how much was received is unknown, so no payment is booked "
            "(re-extract the order, then replay)")
    return holds if order.financial_status in PAID_STATUSES else ZERO


def map_order(order: Order, entry: ShopifyToXeroEntry
              ) -> XeroInvoiceDraft | MappingRejected | MappingSkipped:
    """The Xero documents an order should be, why it cannot be, or why it is not booked."""
    if order.test and entry.shopify.test_orders == "skip":
        return MappingSkipped("test_order")
    problem: MoneyProblem | None = refusal(order)
    if problem is not None:
        return MappingRejected(problem.code, problem.reason)
    sold = order_money(order, as_sold=True)
    if isinstance(sold, MoneyProblem):
        return MappingRejected(sold.code, sold.reason)
    texts = _Texts()
    lines = _lines(sold.lines, entry, texts, "line")
    if isinstance(lines, MappingRejected):
        return lines
    cancelled = order.cancelled_at is not None
    notes = () if cancelled else _credit_notes(order, entry, texts)
    if isinstance(notes, MappingRejected):
        return notes
    holds = sold.total if cancelled else _current_total(order)
    paid = ZERO if cancelled else _paid(order, holds)
    if isinstance(paid, MappingRejected):
        return paid
    draft = XeroInvoiceDraft(
        source_id=str(order.id), invoice_number=external_key(order),
        reference=f"{ORDER_MARKER}{order.id} {order.name}",
        on=business_date(order, entry.timezone), contact_name=_contact(order, texts),
        email=order.email or (order.customer.email if order.customer else None),
        currency=order.presentment_currency, inclusive=sold.taxes_included, lines=lines,
        credit_notes=notes,
        paid=paid,
        clearing_account=entry.xero.clearing_account, voided=cancelled,
        normalised=tuple(sorted(texts.changed.items())))
    if draft.total != sold.total:  # Xero's arithmetic on our lines must give Shopify's
        return MappingRejected("totals_disagree", f"the invoice would total {draft.total} "
                               f"{draft.currency}, Shopify states {sold.total} as sold")
    if not cancelled and draft.total - draft.credited != holds:
        return MappingRejected(
            "refunds_disagree", f"the invoice ({draft.total}) less its credit notes "
            f"({draft.credited}) is {draft.total - draft.credited} {draft.currency}, Shopify "
            f"states the order now holds {holds}: a refund of something the credit notes "
            "cannot carry (duties, fees, a refund discrepancy)")
    return draft
