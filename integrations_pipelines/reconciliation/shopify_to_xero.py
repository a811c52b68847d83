"""The Shopify -> Xero reader: what each side of a window states, independently.

The judge compares what each system states about itself, never what our mapping computed:
- source: every order of the shop in the raw store at its current version, as Shopify
  states it, in its presentment currency: its total as sold (`total_price_set`) and tax
  (`total_tax_set`), what refunds took back (as sold less `current_total_price_set`), what
  is still due (Shopify's `total_outstanding`, stated in the shop's currency and taken at
  the order's own presentment/shop ratio; without it, nothing when `financial_status` says
  paid, partially_refunded or refunded and the current total otherwise), what was paid
  (the current total less what is due: a `partially_paid` order's payment) and so the
  state its invoice must be in (VOIDED when cancelled, PAID when nothing is due,
  AUTHORISED otherwise). Test orders are left out when
  the catalog skips them.
- destination: the Xero invoices dated in the window that belong to the integration
  (`InvoiceNumber` shaped like "S<order number>", or our marker in `Reference`), as Xero
  states them: `Total`, `TotalTax`, `AmountCredited`, `AmountDue`, `AmountPaid` and
  `Status`, all Xero's
  own arithmetic (its tax on the lines, its allocations, its payments). A deleted invoice
  is gone; a voided copy of a key that has another record is a settled duplicate.
- VAT per rate (`vat_by_rate`): Shopify's tax lines of the day's orders net of the tax
  their refunds gave back, per rate, against the tax Xero holds on the day's invoice lines
  less the tax on their credit notes, each Xero line at the rate Xero states for its tax
  type (`TaxRates`, never the catalog's mapping); the VAT of dead-lettered orders is
  shown apart.
The key on every side is the InvoiceNumber. Plain SQLAlchemy and pandas: no Dagster import.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.mapping.shopify_to_xero import (
    ORDER_MARKER,
    PAID_STATUSES,
    external_key,
)
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.reconciliation import frames
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window
from integrations_pipelines.state import raw
from integrations_pipelines.sync.dead_letters import open_letters
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import orders_kind
from integrations_pipelines.vendors.xero import records as xero_records

__all__ = ["INVOICE_FIELDS", "LABELS", "OrdersAgainstXeroInvoices", "VatByRate", "reconcile",
           "shopify_vat", "vat_by_rate", "xero_vat"]

INVOICE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("currency", "currency"),
    FieldSpec("total", "money"),
    FieldSpec("tax", "money"),
    FieldSpec("credited", "money"),
    FieldSpec("due", "money"),
    FieldSpec("paid", "money"),
    FieldSpec("status", "text"),
)
SOURCE_COLUMNS = frames.source_columns(INVOICE_FIELDS)
DESTINATION_COLUMNS = (*frames.destination_columns(INVOICE_FIELDS), "voided")
OWN_NUMBER = re.compile(r"^S\d+$")
MARKER = re.compile(re.escape(ORDER_MARKER) + r"(\d+)")
ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
LABELS = frames.SideLabels(source="shopify", source_record="order", destination="xero",
                           destination_record="invoice")


def _pres(money: Any) -> Decimal:
    return Decimal(0) if money is None else Decimal(money.presentment_money.amount)


def _tags(order: Order) -> str:
    texts = [li.title for li in order.line_items]
    if order.customer is not None:
        texts += [order.customer.first_name or "", order.customer.last_name or ""]
    found = {name for name, applies in (
        ("astral_chars", any(ASTRAL.search(t) for t in texts)),
        ("multi_currency", order.presentment_currency != order.currency),
        ("refunded", bool(order.refunds)),
        ("cancelled", order.cancelled_at is not None),
        ("tax_inclusive", order.taxes_included),
        ("gift_card", any(li.gift_card for li in order.line_items)),
        ("unpaid", order.financial_status not in PAID_STATUSES),
        ("partially_paid", order.financial_status == "partially_paid"),
    ) if applies}
    return " ".join(f"edge:{case}" for case in sorted(found))


def _outstanding(order: Order, now: Decimal) -> Decimal:
    """What Shopify says the customer still owes, in the presentment currency."""
    stated = (order.model_extra or {}).get("total_outstanding")
    if stated is None:
        return Decimal(0) if order.financial_status in PAID_STATUSES else now
    owed = Decimal(str(stated))
    money = order.current_total_price_set or order.total_price_set
    if order.presentment_currency != order.currency and money.shop_money.amount:
        owed = (owed * money.presentment_money.amount
                / money.shop_money.amount).quantize(Decimal("0.01"))
    return min(max(owed, Decimal(0)), now)


def _source_row(order: Order) -> tuple[Any, ...]:
    sold, tax = _pres(order.total_price_set), _pres(order.total_tax_set)
    if order.cancelled_at is not None:
        credited, due, paid, status = Decimal(0), Decimal(0), Decimal(0), "VOIDED"
    else:
        now = _pres(order.current_total_price_set or order.total_price_set)
        credited = sold - now
        due = _outstanding(order, now)
        paid = now - due
        status = "PAID" if due == 0 else "AUTHORISED"
    return (external_key(order), str(order.id), order.updated_at, order.presentment_currency,
            float(sold), float(tax), float(credited), float(due), float(paid), status,
            _tags(order))


def _destination_row(invoice: dict[str, Any]) -> tuple[Any, ...] | None:
    number = invoice.get("InvoiceNumber") or ""
    marker = MARKER.search(invoice.get("Reference") or "")
    if invoice.get("Status") == "DELETED" or not (OWN_NUMBER.match(number) or marker):
        return None
    return (number or f"(no InvoiceNumber: {invoice['InvoiceID']})", str(invoice["InvoiceID"]),
            str(invoice.get("UpdatedDateUTC") or ""), marker.group(1) if marker else None,
            invoice.get("CurrencyCode"), _amount(invoice.get("Total")),
            _amount(invoice.get("TotalTax")), _amount(invoice.get("AmountCredited")),
            0.0 if invoice.get("Status") == "VOIDED" else _amount(invoice.get("AmountDue")),
            _amount(invoice.get("AmountPaid")), invoice.get("Status"),
            invoice.get("Status") == "VOIDED")


def _amount(value: Any) -> float:
    return 0.0 if value is None else float(Decimal(str(value)))


@dataclass
class OrdersAgainstXeroInvoices:
    """The reader of one window: the shop's orders in the raw store, and the organisation's
    invoices (a fresh read when given, else the last read-back of `tenant_id`)."""

    conn: sa.Connection
    entry: ShopifyToXeroEntry
    start: date
    end: date
    tenant_id: str
    invoices: list[dict[str, Any]] | None = None
    fields: tuple[FieldSpec, ...] = INVOICE_FIELDS
    labels: frames.SideLabels = LABELS
    destination_system: str = xero_records.SYSTEM

    def _orders(self) -> Iterable[Order]:
        skip_tests = self.entry.shopify.test_orders == "skip"
        kind = orders_kind(self.entry.shopify.shop)
        for stored in raw.window(self.conn, kind, self.start, self.end):
            order = Order.model_validate(stored.payload)
            if not (order.test and skip_tests):
                yield order

    def source(self) -> pd.DataFrame:
        return frames.build_frame((_source_row(o) for o in self._orders()), SOURCE_COLUMNS,
                                  text=("key", "source_id", "currency", "status", "tags"),
                                  dates=("version",))

    def _invoices(self) -> list[dict[str, Any]]:
        if self.invoices is None:
            self.invoices = [r.payload for r in raw.window(
                self.conn, xero_records.invoices_kind(self.tenant_id), self.start, self.end)]
        return self.invoices

    def destination_keys(self) -> list[str]:
        return [i["InvoiceNumber"] for i in self._invoices() if i.get("InvoiceNumber")]

    def destination(self, ledger: pd.DataFrame) -> pd.DataFrame:
        rows = (row for row in map(_destination_row, self._invoices()) if row is not None)
        frame = frames.build_frame(rows, DESTINATION_COLUMNS, text=(
            "key", "destination_id", "sync_token", "source_id", "currency", "status"))
        return frames.without_settled_duplicates(frame, ledger).drop(columns="voided")

    def letter_key(self, payload: Any) -> str | None:
        number = payload.get("order_number") if isinstance(payload, dict) else None
        return f"S{number}" if number is not None else None


def reconcile(conn: sa.Connection, entry: ShopifyToXeroEntry, start: date, end: date,
              tenant_id: str, *, invoices: list[dict[str, Any]] | None = None,
              run_ids: Collection[str] = ()) -> WindowReconciliation:
    """The window's reconciliation: the stored orders against Xero's invoices."""
    sides = OrdersAgainstXeroInvoices(conn, entry, start, end, tenant_id, invoices)
    return reconcile_window(frames.load_window(conn, entry.name, sides, start, end,
                                               f"xero:{tenant_id}", run_ids))


@dataclass(frozen=True)
class VatByRate:
    """The window's VAT per rate as it now stands: Shopify's tax lines net of the tax its
    refunds gave back, against Xero's tax on the invoice lines less the tax on their credit
    notes, each Xero line put at the rate Xero itself states for its tax type (its
    `TaxRates`); `differences` names the rates that disagree by more than a cent per line,
    with both figures. `dead_lettered` is the VAT of the orders with an open dead letter,
    per rate: accounted for, not compared."""

    shopify: dict[str, Decimal]
    xero: dict[str, Decimal]
    differences: dict[str, tuple[Decimal, Decimal]]
    dead_lettered: dict[str, Decimal]


def _rate(value: Any) -> str:
    return str(Decimal(str(value)).normalize()) if value is not None else "?"


def _tax_amount(line: Any) -> Decimal:
    return Decimal(line.price_set.presentment_money.amount if line.price_set else line.price)


def _refund_amount(money: Any, plain: Any) -> Decimal:
    return Decimal(str(money.presentment_money.amount if money is not None else plain))


def _spread(into: dict[str, Decimal], tax_lines: list[Any], amount: Decimal) -> None:
    """Give `amount` to the rates of `tax_lines`, in proportion to their tax."""
    total = sum((_tax_amount(t) for t in tax_lines), Decimal(0))
    for line in tax_lines:
        share = amount * _tax_amount(line) / total if total else amount / len(tax_lines)
        into[_rate(line.rate)] = into.get(_rate(line.rate), Decimal(0)) + share


def shopify_vat(order: Order) -> tuple[dict[str, Decimal], int]:
    """An order's VAT per rate as Shopify now states it: its tax lines as sold, less the
    tax its refunds gave back (refunded line items' `total_tax`; refunded shipping's share
    of the shipping tax, or a shipping_refund adjustment's `tax_amount`); nothing for a
    cancelled order. With the number of tax lines (the tolerance)."""
    if order.cancelled_at is not None:
        return {}, 0
    vat: dict[str, Decimal] = {}
    items = {li.id: li for li in order.line_items}
    ships = [s for s in order.shipping_lines if not s.is_removed]
    taxed = [t for li in order.line_items for t in li.tax_lines] + [
        t for s in ships for t in s.tax_lines]
    for line in taxed:
        vat[_rate(line.rate)] = vat.get(_rate(line.rate), Decimal(0)) + _tax_amount(line)
    for refund in order.refunds:
        for taken in refund.refund_line_items:
            item = items.get(taken.line_item_id)
            tax = _refund_amount(taken.total_tax_set, taken.total_tax)
            if item is not None and item.tax_lines and tax:
                _spread(vat, item.tax_lines, -tax)
        by_id = {s.id: s for s in order.shipping_lines}
        for back in refund.refund_shipping_lines:
            ship = by_id.get(back.shipping_line_id)
            if ship is None or not ship.tax_lines:
                continue
            price = Decimal(str((ship.discounted_price_set or ship.price_set)
                                .presentment_money.amount))
            amount = _refund_amount(back.subtotal_amount_set, 0)
            tax = sum((_tax_amount(t) for t in ship.tax_lines), Decimal(0))
            if price:
                _spread(vat, ship.tax_lines, -(tax * amount / price).quantize(Decimal("0.01")))
        if not refund.refund_shipping_lines:
            shipping_taxes = [t for s in ships for t in s.tax_lines]
            for adjustment in refund.order_adjustments:
                tax = _refund_amount(adjustment.tax_amount_set, adjustment.tax_amount)
                if adjustment.kind == "shipping_refund" and tax and shipping_taxes:
                    _spread(vat, shipping_taxes, tax)  # negative: tax given back
    return vat, len(taxed)


def xero_vat(invoices: Iterable[dict[str, Any]], credit_notes: Iterable[dict[str, Any]],
             tax_rates: dict[str, Decimal]) -> dict[str, Decimal]:
    """Xero's VAT per rate: the tax on the lines of our live invoices (not voided or
    deleted) less the tax on the lines of their live credit notes, each line at the rate
    Xero states for its tax type; all Xero's own figures."""
    vat: dict[str, Decimal] = {}

    def add(document: dict[str, Any], sign: int) -> None:
        for line in document.get("LineItems") or []:
            rate = tax_rates.get(str(line.get("TaxType")))
            key = _rate(rate) if rate is not None else f"? ({line.get('TaxType')})"
            vat[key] = vat.get(key, Decimal(0)) + sign * Decimal(str(line.get("TaxAmount") or 0))

    for invoice in invoices:
        if invoice.get("Status") not in ("VOIDED", "DELETED") and _destination_row(invoice):
            add(invoice, 1)
    for note in credit_notes:
        if note.get("Status") in ("AUTHORISED", "PAID"):
            add(note, -1)
    return vat


def vat_by_rate(conn: sa.Connection, entry: ShopifyToXeroEntry, start: date, end: date,
                tenant_id: str, tax_rates: dict[str, Decimal]) -> VatByRate:
    """VAT per rate for the window's orders, net of refunds, compared (GBP and every other
    currency together: each invoice and credit note is in its order's currency, so the sums
    compare like with like). `tax_rates`: Xero's TaxType -> EffectiveRate as a fraction."""
    shopify: dict[str, Decimal] = {}
    lettered: dict[str, Decimal] = {}
    count: dict[str, int] = {}
    reader = OrdersAgainstXeroInvoices(conn, entry, start, end, tenant_id)
    letters = {r.source_id for r in open_letters(conn, entry.name, start=start, end=end)}
    for order in reader._orders():
        vat, lines = shopify_vat(order)
        into = lettered if str(order.id) in letters else shopify
        for rate, amount in vat.items():
            into[rate] = into.get(rate, Decimal(0)) + amount
            count[rate] = count.get(rate, 0) + lines
    notes = [r.payload for r in raw.window(
        conn, xero_records.credit_notes_kind(tenant_id), start, end)]
    xero = xero_vat(reader._invoices(), notes, tax_rates)
    zero = Decimal(0)
    differences = {rate: (shopify.get(rate, zero).quantize(Decimal("0.01")),
                          xero.get(rate, zero))
                   for rate in sorted(set(shopify) | set(xero))
                   if abs(shopify.get(rate, zero) - xero.get(rate, zero))
                   > Decimal("0.01") * max(count.get(rate, 1), 1)}
    return VatByRate(shopify, xero, differences, lettered)
