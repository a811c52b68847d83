"""Shopify order -> QuickBooks Online invoice: every edge-case decision, explicit.

Decisions (each one is tested in `integrations_pipelines_tests/mapping`):
- One invoice per order; `DocNumber` = "S" + order_number (the external key, <= 21 chars),
  `TxnDate` = the order's creation day in the integration's timezone.
- Currency: the invoice is in the order's presentment currency (what the customer saw and
  paid), with `ExchangeRate` = shop money / presentment money of the order total. Amounts
  come from the `*_set.presentment_money` objects.
- Customer: one QuickBooks customer per Shopify customer *and currency* (QuickBooks fixes
  a customer's currency once set). Its DisplayName ends with a stable tag
  "[shopify:<customer id>:<currency>]" used to find it again even after a rename; guest
  checkouts share one "Shopify guest" customer per currency.
- Text: emoji and other 4-byte characters are removed (QuickBooks rejects them), white
  space folded; over-long names and descriptions are cut to QuickBooks' limits with an
  ellipsis, keeping the customer tag intact. Apostrophes pass through (queries escape them).
- Email: the invoice is billed to the order's own email (where its confirmation went), else
  the customer's; with neither, the invoice simply has no BillEmail.
- Lines: one sales line per line item (Qty x UnitPrice, exact); one line per shipping line;
  the order's total discount as one discount line; tax as TxnTaxDetail.TotalTax.
- Refunds: one negative "Refund" line per refund (its successful refund transactions), so
  the invoice total is what the customer finally owes.
- Cancellations: the invoice is voided (created first if the order was never synced, so
  every order leaves an auditable document).
- Rejected, to the dead-letter table with a reason: an order with no line items; a discount
  larger than the line items' total (QuickBooks refuses a negative invoice); an order whose
  money sets disagree on currency.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from integrations_pipelines.catalog import QuickBooksItems
from integrations_pipelines.mapping.text import ELLIPSIS, fit, strip_astral
from integrations_pipelines.vendors.shopify.models import MoneySet, Order

DOC_NUMBER_MAX = 21
DISPLAY_NAME_MAX = 500
GIVEN_FAMILY_MAX = 100
DESCRIPTION_MAX = 4000
CENT = Decimal("0.01")


@dataclass(frozen=True)
class MappingRejected:
    """An order that cannot become an invoice; it goes to the dead-letter table."""

    reason_code: str
    reason: str


@dataclass(frozen=True)
class CustomerDraft:
    display_name: str
    tag: str
    given_name: str | None
    family_name: str | None
    email: str | None
    currency: str

    def to_qbo(self) -> dict:
        body: dict = {"DisplayName": self.display_name, "CurrencyRef": {"value": self.currency}}
        if self.given_name:
            body["GivenName"] = self.given_name
        if self.family_name:
            body["FamilyName"] = self.family_name
        if self.email:
            body["PrimaryEmailAddr"] = {"Address": self.email}
        return body


@dataclass(frozen=True)
class LineDraft:
    item_id: str
    description: str
    qty: Decimal
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.qty * self.unit_price).quantize(CENT)


@dataclass(frozen=True)
class InvoiceDraft:
    """The desired state of the invoice for one order version."""

    source_id: str
    doc_number: str
    txn_date: date
    customer: CustomerDraft
    currency: str
    exchange_rate: Decimal
    lines: tuple[LineDraft, ...]
    discount: Decimal
    tax: Decimal
    email: str | None
    private_note: str
    voided: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0")) - self.discount + self.tax

    def to_qbo(self, customer_id: str) -> dict:
        """The invoice body QuickBooks expects (create, or the fields of a sparse update)."""
        lines: list[dict] = [
            {
                "Amount": float(ln.amount),
                "Description": ln.description,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": ln.item_id},
                    "Qty": float(ln.qty),
                    "UnitPrice": float(ln.unit_price),
                },
            }
            for ln in self.lines
        ]
        if self.discount:
            lines.append(
                {
                    "Amount": float(self.discount),
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": False},
                }
            )
        body: dict = {
            "DocNumber": self.doc_number,
            "TxnDate": self.txn_date.isoformat(),
            "CustomerRef": {"value": customer_id},
            "CurrencyRef": {"value": self.currency},
            "ExchangeRate": float(self.exchange_rate),
            "Line": lines,
            "TxnTaxDetail": {"TotalTax": float(self.tax)},
            "PrivateNote": self.private_note,
        }
        if self.email:
            body["BillEmail"] = {"Address": self.email}
        return body

    def payload_hash(self) -> str:
        """Fingerprint of the desired state: unchanged hash means nothing to write."""
        canonical = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _presentment(money: MoneySet) -> Decimal:
    return money.presentment_money.amount


def customer_draft(order: Order) -> CustomerDraft:
    """The QuickBooks customer an order is billed to (one per Shopify customer and currency)."""
    currency = order.presentment_currency
    c = order.customer
    if c is None:
        tag = f"[shopify:guest:{currency}]"
        name, given, family, email = "Shopify guest", None, None, None
    else:
        tag = f"[shopify:{c.id}:{currency}]"
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
    found = set()
    if any(strip_astral(t) != t for t in texts):
        found.add("astral_chars")
    if any("'" in t for t in names):
        found.add("apostrophe")
    customer = customer_draft(order)
    shown = customer.display_name[: -len(customer.tag) - 1]
    if shown.endswith(ELLIPSIS) and not " ".join(names).rstrip().endswith(ELLIPSIS):
        found.add("long_name")
    if any(len(li.title) > DESCRIPTION_MAX for li in order.line_items):
        found.add("long_title")
    if order.presentment_currency != order.currency:
        found.add("multi_currency")
    if order.refunds:
        found.add("refunded")
    if order.cancelled_at is not None:
        found.add("cancelled")
    return frozenset(found)


def business_date(order: Order, tz: str = "UTC") -> date:
    """The day an order belongs to (its partition and invoice date): creation, local time."""
    return order.created_at.astimezone(ZoneInfo(tz)).date()


def map_order(
    order: Order, items: QuickBooksItems, tz: str = "UTC"
) -> InvoiceDraft | MappingRejected:
    """The invoice an order should be, or why it cannot be one."""
    if not order.line_items:
        return MappingRejected("no_line_items", "the order has no line items to invoice")
    currency = order.presentment_currency
    sets = (
        order.total_price_set,
        order.subtotal_price_set,
        order.total_tax_set,
        order.total_discounts_set,
    )
    if any(s.presentment_money.currency_code != currency for s in sets):
        return MappingRejected(
            "currency_mismatch", "presentment money sets disagree with presentment_currency"
        )
    lines = [
        LineDraft(
            items.sales_item_id,
            fit(li.title, DESCRIPTION_MAX) or "Item",
            Decimal(li.quantity),
            _presentment(li.price_set),
        )
        for li in order.line_items
    ]
    line_total = sum((ln.amount for ln in lines), Decimal("0"))
    discount = _presentment(order.total_discounts_set)
    if discount > line_total:
        return MappingRejected(
            "discount_exceeds_total",
            f"discount {discount} {currency} exceeds the line items' total {line_total}; "
            "QuickBooks rejects a negative invoice. Fix the order in Shopify, then replay.",
        )
    lines += [
        LineDraft(
            items.shipping_item_id,
            fit(s.title or "Shipping", DESCRIPTION_MAX),
            Decimal(1),
            _presentment(s.price_set),
        )
        for s in order.shipping_lines
        if _presentment(s.price_set)
    ]
    for refund in order.refunds:
        refunded = sum(
            (
                t.amount
                for t in refund.transactions
                if t.kind == "refund" and t.status in (None, "success")
            ),
            Decimal("0"),
        )
        if refunded:
            lines.append(
                LineDraft(items.refund_item_id, f"Refund {refund.id}", Decimal(1), -refunded)
            )
    shop_total = order.total_price_set.shop_money.amount
    presentment_total = _presentment(order.total_price_set)
    rate = (
        (shop_total / presentment_total).quantize(Decimal("0.000001"))
        if (presentment_total and order.currency != currency)
        else Decimal(1)
    )
    notes = tuple(
        note
        for note, applies in (
            (
                "text_normalized",
                any(fit(li.title, DESCRIPTION_MAX) != li.title for li in order.line_items),
            ),
            ("multi_currency", order.currency != currency),
            ("guest_checkout", order.customer is None),
        )
        if applies
    )
    return InvoiceDraft(
        source_id=str(order.id),
        doc_number=f"S{order.order_number}"[:DOC_NUMBER_MAX],
        txn_date=business_date(order, tz),
        customer=customer_draft(order),
        currency=currency,
        exchange_rate=rate,
        lines=tuple(lines),
        discount=discount,
        tax=_presentment(order.total_tax_set),
        email=order.email or (order.customer.email if order.customer else None),
        private_note=f"shopify:order:{order.id} {order.name}",
        voided=order.cancelled_at is not None,
        notes=notes,
    )
