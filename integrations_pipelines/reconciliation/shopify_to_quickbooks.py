"""The Shopify -> QuickBooks reader: what each side of a window states, from the store.

The judge is independent: it compares what each system states about itself, never what our
mapping computed, so a mapping error fails the check instead of being agreed with.
For one window of business days:
- source: every order of the shop in the raw store (`raw_records`) at its current version,
  as Shopify states it: its current total and tax (`current_total_price_set`,
  `current_total_tax_set`, presentment money: after refunds and edits), currency, customer
  and cancelled state. A cancelled order expects a voided invoice, which QuickBooks keeps at
  zero. Test orders are left out when the catalog skips them.
- destination: the QuickBooks invoices dated in the window that belong to the integration
  (DocNumber shaped like the external key `S<order number>`, or the `shopify:order:` marker
  in PrivateNote), as QuickBooks reports them: `TotalAmt` (which QuickBooks computes from the
  lines and its tax rules, never a number we sent), `TxnTaxDetail.TotalTax`, currency,
  customer and voided state. A hand-made invoice with its own numbering is the
  bookkeeper's business, not drift. A voided copy of a key that has another record is a
  settled duplicate (how `void_duplicates` resolves one) and is left out.
The key on every side is the DocNumber, the integration's external key (text). The ledger,
dead letters and evidence are the generic part (`reconciliation.frames.load_window`); the
orders' edge-case tags are evidence too. Both sides are streamed from the store, never held
as payloads; a window of more than `key_chunks.CHUNK_KEYS` records on either side is read
and compared in key-hash chunks of the DocNumber (`frames.WindowChunks`), which PostgreSQL
computes from the order's `order_number` and the invoice's DocNumber exactly as the frames
state them. Plain SQLAlchemy and pandas: no Dagster import.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.catalog import load_catalog
from integrations_pipelines.mapping.shopify_to_quickbooks import (
    DOC_NUMBER_MAX,
    customer_tag,
    edge_cases,
    external_key,
)
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import ShopifyToQuickBooksEntry
from integrations_pipelines.reconciliation import frames, sample
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window
from integrations_pipelines.state import raw
from integrations_pipelines.state.db import engine_for
from integrations_pipelines.state.key_chunks import (
    CHUNK_KEYS,
    chunk_count,
    key_chunk,
    window_count,
    window_external_keys,
    window_rows,
)
from integrations_pipelines.state.tables import raw_records
from integrations_pipelines.vendors.quickbooks import records as quickbooks_records
from integrations_pipelines.vendors.quickbooks.writer import is_voided
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS

__all__ = [
    "INVOICE_FIELDS",
    "LABELS",
    "OrdersAgainstInvoices",
    "destination_frame",
    "load_window",
    "reconcile_day",
    "render_sample",
    "source_frame",
]

INVOICE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("currency", "currency"),
    FieldSpec("total", "money"),
    FieldSpec("tax", "money"),
    FieldSpec("customer_tag", "text"),
    FieldSpec("voided", "bool"),
)
FIELD_NAMES = tuple(f.name for f in INVOICE_FIELDS)
OWN_DOC_NUMBER = re.compile(r"^S\d+$")
ORDER_MARKER = re.compile(r"shopify:order:(\d+)")
CUSTOMER_TAG = re.compile(r"(\[shopify:[^\]]*\])\s*$")
SOURCE_COLUMNS = frames.source_columns(INVOICE_FIELDS)
DESTINATION_COLUMNS = frames.destination_columns(INVOICE_FIELDS)
SOURCE_TEXT = ("key", "source_id", "currency", "customer_tag", "tags")
DESTINATION_TEXT = ("key", "destination_id", "sync_token", "source_id", "currency",
                    "customer_tag")
LABELS = frames.SideLabels(source="shopify", source_record="order", destination="quickbooks",
                           destination_record="invoice")
# The key of a stored record as the frames state it (`external_key`, `_invoice_key`), in SQL:
# what a window's rows are chunked by.
ORDER_KEY = sa.func.left(sa.literal("S", sa.Text) + raw_records.c.payload["order_number"].astext,
                         DOC_NUMBER_MAX)
INVOICE_KEY = sa.func.coalesce(
    sa.func.nullif(raw_records.c.external_key, ""),
    sa.literal("(no DocNumber: invoice ", sa.Text) + raw_records.c.record_key + ")")


def _stated(money: Any, fallback: Any) -> float:
    """Presentment amount of a Shopify money set (the original one when `money` is absent)."""
    return float((money or fallback).presentment_money.amount)


def source_frame(orders: Iterable[Order], integration: ShopifyToQuickBooksEntry) -> pd.DataFrame:
    """Per order, what Shopify says the invoice must show now (independent of the mapping).

    A voided invoice keeps no amounts in QuickBooks, so a cancelled order expects zeros.
    """
    skip_tests = integration.shopify.test_orders == "skip"
    return frames.build_frame(
        (_source_row(order) for order in orders if not (order.test and skip_tests)),
        SOURCE_COLUMNS, text=SOURCE_TEXT, dates=("version",))


def _source_row(order: Order) -> tuple[Any, ...]:
    """One order's row, in `SOURCE_COLUMNS` order."""
    voided = order.cancelled_at is not None
    return (
        external_key(order),
        str(order.id),
        order.updated_at,
        order.presentment_currency,
        0.0 if voided else _stated(order.current_total_price_set, order.total_price_set),
        0.0 if voided else _stated(order.current_total_tax_set, order.total_tax_set),
        customer_tag(order),
        voided,
        " ".join(f"edge:{case}" for case in sorted(edge_cases(order))),
    )


def destination_frame(invoices: Iterable[dict[str, Any]], ledger: pd.DataFrame) -> pd.DataFrame:
    """The integration's invoices as compared values, one row per QuickBooks record."""
    rows = (row for row in map(_destination_row, invoices) if row is not None)
    frame = frames.build_frame(rows, DESTINATION_COLUMNS, text=DESTINATION_TEXT)
    return frames.without_settled_duplicates(frame, ledger)


def _destination_row(inv: dict[str, Any]) -> tuple[Any, ...] | None:
    """One invoice's row, in `DESTINATION_COLUMNS` order (None: not the integration's)."""
    doc = inv.get("DocNumber")
    note = inv.get("PrivateNote") or ""
    marker = ORDER_MARKER.search(note)
    if not ((doc and OWN_DOC_NUMBER.match(doc)) or marker):
        return None
    tag = CUSTOMER_TAG.search(str((inv.get("CustomerRef") or {}).get("name") or ""))
    return (
        _invoice_key(inv),
        str(inv["Id"]),
        str(inv.get("SyncToken", "")),
        marker.group(1) if marker else None,
        (inv.get("CurrencyRef") or {}).get("value"),
        _amount(inv.get("TotalAmt")),
        _amount((inv.get("TxnTaxDetail") or {}).get("TotalTax")),
        tag.group(1) if tag else None,
        is_voided(inv),
    )


def _invoice_key(inv: dict[str, Any]) -> str:
    """The key an invoice is compared under: its DocNumber, else a name of its own."""
    return str(inv.get("DocNumber") or f"(no DocNumber: invoice {inv['Id']})")


def _amount(value: Any) -> float:
    return 0.0 if value is None else float(Decimal(str(value)))


@dataclass
class OrdersAgainstInvoices:
    """The reader of one window, or of its key-hash chunk `chunk` of `chunks`: the shop's
    orders in the raw store, and the company's invoices (a fresh read when given, else the
    last read-back of `realm_id`; None: every realm), streamed from the store."""

    conn: sa.Connection
    integration: ShopifyToQuickBooksEntry
    start: date
    end: date
    realm_id: str | None
    invoices: Sequence[dict[str, Any]] | None = None
    fields: tuple[FieldSpec, ...] = INVOICE_FIELDS
    labels: frames.SideLabels = LABELS
    destination_system: str = quickbooks_records.SYSTEM
    chunk: int = 0
    chunks: int = 1

    def source(self) -> pd.DataFrame:
        stored = window_rows(self.conn, ORDERS, self.start, self.end, ORDER_KEY, self.chunk,
                             self.chunks)
        return source_frame((Order.model_validate(r.payload) for r in stored), self.integration)

    def _invoices(self) -> Iterable[dict[str, Any]]:
        """The chunk's invoices: the given ones of the chunk, or streamed from the store."""
        if self.invoices is not None:
            if self.chunks == 1:
                return self.invoices
            return [i for i in self.invoices
                    if key_chunk(_invoice_key(i), self.chunks) == self.chunk]
        return (r.payload for r in window_rows(self.conn, _invoice_kind(self.realm_id),
                                               self.start, self.end, INVOICE_KEY, self.chunk,
                                               self.chunks))

    def destination_keys(self) -> list[str]:
        if self.invoices is not None:
            return [i["DocNumber"] for i in self._invoices() if i.get("DocNumber")]
        return window_external_keys(self.conn, _invoice_kind(self.realm_id), self.start,
                                    self.end, INVOICE_KEY, self.chunk, self.chunks)

    def destination(self, ledger: pd.DataFrame) -> pd.DataFrame:
        return destination_frame(self._invoices(), ledger)

    def letter_key(self, payload: Any) -> str | None:
        number = payload.get("order_number") if isinstance(payload, dict) else None
        return f"S{number}" if number is not None else None


def _invoice_kind(realm_id: str | None) -> raw.RecordKind | tuple[str, str]:
    """The stored invoices of one company, or of every company (realm None)."""
    if realm_id is None:
        return (quickbooks_records.SYSTEM, quickbooks_records.INVOICES)
    return quickbooks_records.invoices_kind(realm_id)


def load_window(
    conn: sa.Connection,
    integration: ShopifyToQuickBooksEntry,
    start: date,
    end: date,
    realm_id: str | None,
    *,
    invoices: Sequence[dict[str, Any]] | None = None,
    run_ids: Collection[str] = (),
    chunk_keys: int = CHUNK_KEYS,
) -> frames.WindowFrames | frames.WindowChunks:
    """The frames of business days [start, end), or, for a window of more than `chunk_keys`
    orders or invoices, the window in key-hash chunks of about that many keys, which
    `window.reconcile_window` reads and compares one at a time.

    `invoices`: the destination's records as QuickBooks returns them (a fresh read, as the
    repair does); by default the last read-back in the raw store for `realm_id` (None:
    every realm). `run_ids`: the runs that worked on the window, whose failed
    QuickBooks calls are evidence.
    """
    stored = (len(invoices) if invoices is not None
              else window_count(conn, _invoice_kind(realm_id), start, end))
    chunks = chunk_count(max(window_count(conn, ORDERS, start, end), stored), chunk_keys)

    def read(chunk: int) -> frames.WindowFrames:
        sides = OrdersAgainstInvoices(conn, integration, start, end, realm_id, invoices,
                                      chunk=chunk, chunks=chunks)
        return frames.load_window(conn, integration.name, sides, start, end, realm_id, run_ids,
                                  chunk=chunk, chunks=chunks)

    def by_id(ids: list[str]) -> pd.DataFrame:
        wanted = set(ids)
        found = ([i for i in invoices if str(i["Id"]) in wanted] if invoices is not None
                 else [r.payload for r in window_rows(conn, _invoice_kind(realm_id), start, end,
                                                      record_keys=ids)])
        rows = (row for row in map(_destination_row, found) if row is not None)
        return frames.build_frame(rows, DESTINATION_COLUMNS, text=DESTINATION_TEXT)

    if chunks == 1:
        return read(0)
    return frames.WindowChunks(start=start, end=end, chunks=chunks, read=read,
                               fields=INVOICE_FIELDS, labels=LABELS, destination_by_id=by_id)


def reconcile_day(conn: sa.Connection, integration: ShopifyToQuickBooksEntry, day: date,
                  realm_id: str | None) -> WindowReconciliation:
    """The reconciliation of one business day from the store's last extraction and read-back."""
    return reconcile_window(load_window(conn, integration, day, day + timedelta(days=1),
                                        realm_id))


def render_sample(database_url: str, integration_name: str, day: date, n: int = 20,
                  discrepancy_class: str | None = None, seed: int | None = None,
                  realm_id: str | None = None) -> str:
    """The command-line report: summary line, then the comparison table.

    Raises ValueError (with the reason) for an unknown integration or class.
    """
    catalog = load_catalog()
    if integration_name not in catalog:
        raise ValueError(f"unknown integration {integration_name!r}; the catalog has "
                         f"{', '.join(sorted(catalog))}")
    integration = catalog[integration_name]
    if not isinstance(integration, ShopifyToQuickBooksEntry):
        raise ValueError(f"{integration_name}: sampling compares Shopify orders with "
                         "QuickBooks invoices only")
    sample.check_class(discrepancy_class)
    with engine_for(database_url).connect() as conn:
        report = reconcile_day(conn, integration, day, realm_id)
    table = sample.comparison(report, n, discrepancy_class, seed)
    return f"{sample.summary(report)}\n\n{sample.to_markdown(table)}"
