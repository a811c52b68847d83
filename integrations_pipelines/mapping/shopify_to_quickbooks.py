"""Shopify order -> QuickBooks Online invoice: every booking decision, explicit.

Money (the full table is in docs/RUNBOOK.md, "How money flows"):
- The invoice is what the order is worth now, as Shopify states it: its total equals
  `current_total_price_set` and its tax `current_total_tax_set`, to the cent, in the order's
  presentment currency (`ExchangeRate` = shop money / presentment money of the order total).
  `mapping/shopify_money.py` breaks that value into lines and checks it adds up; where it
  does not, the order is rejected with the reason, never booked with another total.
- One sales line per line item at its current quantity and value: after its discount
  allocations and after what refunds took back (so no separate discount or refund lines,
  and the per-line tax QuickBooks sees is the tax Shopify charged). Shipping at its
  discounted price, less refunded shipping. Duties, additional fees and tips on items of
  their own. Gift-card sales go to the gift-card liability item (catalog `shopify.gift_cards`).
- Tax, per the company (catalog `quickbooks`): US companies get `TaxCodeRef` TAX/NON per line
  and `TxnTaxDetail.TotalTax` = Shopify's tax (with manual sales tax under
  `sales_tax_code_id`; automated sales tax honours the amount sent). Other countries get
  `GlobalTaxCalculation` (TaxInclusive for `taxes_included` shops, else TaxExcluded), a
  `TaxCodeRef` per line from Shopify's rate, and the tax per code in `TxnTaxDetail.TaxLine`.
  For a US company a tax-inclusive shop's lines are booked net of their tax.
- Test orders (`test: true`) are skipped by default (catalog `shopify.test_orders`).
Identity and text:
- `DocNumber` = "S" + order_number (the external key, <= 21 chars), `TxnDate` = the creation
  day in the integration's timezone; `PrivateNote` carries the marker
  "shopify:order:<id>" that says this integration wrote the invoice.
- One customer per Shopify customer *and currency* (QuickBooks fixes a customer's currency),
  found again by the tag "[shopify:<customer id>:<currency>]" at the end of its DisplayName;
  guest checkouts share one "Shopify guest" customer per currency. Billed to the order's
  email, else the customer's.
- Emoji and other 4-byte characters are removed (QuickBooks rejects them), white space
  folded, over-long text cut with an ellipsis. Apostrophes pass (queries escape them).
- Cancellations: the invoice is voided (created first if never synced), as sold.
Rejected, with a reason: no line items; a discount larger than the goods; money sets in
another currency; a tax rate the company has no code for; a value that does not add up.
"""

from __future__ import annotations

from decimal import Decimal

from integrations_pipelines.mapping.shopify_money import (
    MoneyLine,
    MoneyProblem,
    OrderMoney,
    order_money,
    refusal,
)
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import (
    QuickBooksOptions,
    ShopifyToQuickBooksEntry,
)
from integrations_pipelines.mapping.text import ELLIPSIS, fit, strip_astral
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.quickbooks.drafts import CustomerDraft, InvoiceDraft, LineDraft
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import business_date

__all__ = ["CustomerDraft", "InvoiceDraft", "LineDraft", "MappingRejected", "MappingSkipped",
           "business_date", "customer_draft", "edge_cases", "external_key", "map_order"]

DOC_NUMBER_MAX = 21
DISPLAY_NAME_MAX = 500
GIVEN_FAMILY_MAX = 100
DESCRIPTION_MAX = 4000
CENT = Decimal("0.01")
ORDER_MARKER = "shopify:order:"


def external_key(order: Order) -> str:
    """The invoice's DocNumber: how the order is found in QuickBooks."""
    return f"S{order.order_number}"[:DOC_NUMBER_MAX]


def customer_tag(order: Order) -> str:
    """The stable tag of the order's QuickBooks customer (Shopify customer and currency)."""
    who = order.customer.id if order.customer is not None else "guest"
    return f"[shopify:{who}:{order.presentment_currency}]"


def customer_draft(order: Order) -> CustomerDraft:
    """The QuickBooks customer an order is billed to (one per Shopify customer and currency)."""
    currency, tag, c = order.presentment_currency, customer_tag(order), order.customer
    if c is None:
        name, given, family, email = "Shopify guest", None, None, None
    else:
        given = fit(c.first_name or "", GIVEN_FAMILY_MAX) or None
        family = fit(c.last_name or "", GIVEN_FAMILY_MAX) or None
        full = " ".join(p for p in (c.first_name, c.last_name) if p)
        name = full or c.email or order.email or "Shopify customer"
        email = c.email or order.email
    display = fit(name, DISPLAY_NAME_MAX - len(tag) - 1) or "Shopify customer"
    return CustomerDraft(f"{display} {tag}", tag, given, family, email, currency)


def edge_cases(order: Order) -> frozenset[str]:
    """The edge cases an order exercises, named as the mapping handles them.

    Reconciliation uses these as evidence: a wrong value on an order with an emoji or an
    over-long name most likely comes from the normalisation, not from a lost write.
    """
    names = [order.customer.first_name or "", order.customer.last_name or ""] if (
        order.customer) else []
    texts = [*names, *(li.title for li in order.line_items), order.email or ""]
    shown = customer_draft(order).display_name[: -len(customer_tag(order)) - 1]
    found = {name for name, applies in (
        ("astral_chars", any(strip_astral(t) != t for t in texts)),
        ("apostrophe", any("'" in t for t in names)),
        ("long_name", shown.endswith(ELLIPSIS)
         and not " ".join(names).rstrip().endswith(ELLIPSIS)),
        ("long_title", any(len(li.title) > DESCRIPTION_MAX for li in order.line_items)),
        ("multi_currency", order.presentment_currency != order.currency),
        ("refunded", bool(order.refunds)),
        ("cancelled", order.cancelled_at is not None),
        ("tax_inclusive", order.taxes_included),
        ("gift_card", any(li.gift_card for li in order.line_items)),
        ("shipping_discount", any(s.discount_allocations for s in order.shipping_lines)),
    ) if applies}
    return frozenset(found)


def _tax_code(line: MoneyLine, options: QuickBooksOptions) -> str | MappingRejected:
    if options.country == "US":
        return "TAX" if line.tax else "NON"
    if line.rate is None or not line.tax:
        return options.untaxed_tax_code_id or ""
    code = options.tax_codes.get(str(line.rate))
    if code is None:
        return MappingRejected("unmapped_tax_rate", f"no QuickBooks tax code for Shopify's tax "
                               f"rate {line.rate} ({line.description}): add it to the catalog's "
                               "quickbooks.tax_codes, then replay")
    return code


def _item(line: MoneyLine, integration: ShopifyToQuickBooksEntry) -> str:
    options = integration.quickbooks
    if line.kind == "gift_card" and integration.shopify.gift_cards == "liability_item":
        return options.gift_card_item_id
    return {"item": options.sales_item_id, "gift_card": options.sales_item_id,
            "shipping": options.shipping_item_id, "duty": options.duty_item_id,
            "tip": options.tip_item_id, "fee": options.fee_item_id}[line.kind]


def _lines(money: OrderMoney, integration: ShopifyToQuickBooksEntry
           ) -> tuple[list[LineDraft], dict[str, Decimal]] | MappingRejected:
    """Invoice lines and, per tax code, the tax Shopify charged on them."""
    options, us = integration.quickbooks, integration.quickbooks.country == "US"
    lines: list[LineDraft] = []
    tax_by_code: dict[str, Decimal] = {}
    for line in money.lines:
        sold = line.kind in ("item", "gift_card") and line.quantity > 0
        if not line.amount and not line.tax and not sold:
            continue  # taken back whole (or never charged): nothing to book
        code = _tax_code(line, options)
        if isinstance(code, MappingRejected):
            return code
        tax_by_code[code] = tax_by_code.get(code, Decimal(0)) + line.tax
        # QuickBooks US has no tax-inclusive lines: book them net, the tax on top.
        amount = money.net(line) if us else line.amount
        lines.append(LineDraft(_item(line, integration),
                               fit(line.description, DESCRIPTION_MAX) or "Item",
                               line.quantity if line.quantity > 0 else None, amount, code))
    return lines, tax_by_code


def _refusal(order: Order) -> MappingRejected | None:
    """Why an order's own figures cannot make an invoice, if they cannot."""
    problem = refusal(order)
    return None if problem is None else MappingRejected(problem.code, problem.reason)


def _exchange_rate(order: Order) -> Decimal:
    """QuickBooks' ExchangeRate: shop money per presentment money of the order total."""
    shop_total = order.total_price_set.shop_money.amount
    presentment_total = order.total_price_set.presentment_money.amount
    if presentment_total and order.currency != order.presentment_currency:
        return (shop_total / presentment_total).quantize(Decimal("0.000001"))
    return Decimal(1)


def map_order(order: Order, integration: ShopifyToQuickBooksEntry
              ) -> InvoiceDraft | MappingRejected | MappingSkipped:
    """The invoice an order should be, why it cannot be one, or why it is not booked."""
    if order.test and integration.shopify.test_orders == "skip":
        return MappingSkipped("test_order")
    refused = _refusal(order)
    if refused is not None:
        return refused
    money = order_money(order)
    if isinstance(money, MoneyProblem):
        return MappingRejected(money.code, money.reason)
    built = _lines(money, integration)
    if isinstance(built, MappingRejected):
        return built
    lines, tax_by_code = built
    options = integration.quickbooks
    us = options.country == "US"
    draft = InvoiceDraft(
        source_id=str(order.id),
        doc_number=external_key(order),
        txn_date=business_date(order, integration.timezone),
        customer=customer_draft(order),
        currency=order.presentment_currency,
        exchange_rate=_exchange_rate(order),
        lines=tuple(lines),
        tax=money.tax,
        tax_by_code=() if us else tuple(sorted((c, t) for c, t in tax_by_code.items() if t)),
        global_tax=None if us else ("TaxInclusive" if money.taxes_included else "TaxExcluded"),
        txn_tax_code=options.sales_tax_code_id if us and options.sales_tax == "manual"
        and money.tax else None,
        email=order.email or (order.customer.email if order.customer else None),
        private_note=f"{ORDER_MARKER}{order.id} {order.name}",
        voided=order.cancelled_at is not None,
    )
    if draft.total != money.total:  # the books' own arithmetic must give Shopify's figure
        return MappingRejected("totals_disagree", f"the invoice would total {draft.total} "
                               f"{draft.currency}, Shopify states {money.total}")
    return draft
