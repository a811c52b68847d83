"""The Shopify -> warehouse reader: what each side of a window states, independently.

- source: every order of the shop in the raw store at its current version, read from the
  payload Shopify returned (not through the pair's mapping): the shop's currency, its
  current total and tax in that currency (`current_total_price_set.shop_money`, after
  refunds and edits; the original figures when the payload has no current ones), its
  financial status and whether it is cancelled. Test orders are left out when the catalog
  skips them.
- destination: the warehouse rows whose business day lies in the window, as the table
  holds them.
The key on both sides is the order id (text). Plain SQLAlchemy and pandas.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.mapping.shopify_to_warehouse_entry import ShopifyToWarehouseEntry
from integrations_pipelines.reconciliation import frames
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.state import raw
from integrations_pipelines.vendors.shopify.records import ORDERS

__all__ = ["LABELS", "ORDER_FIELDS", "OrdersAgainstRows", "stated_amount"]

ORDER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("currency", "currency"),
    FieldSpec("total", "money"),
    FieldSpec("tax", "money"),
    FieldSpec("financial_status", "text"),
    FieldSpec("voided", "bool"),
)
LABELS = frames.SideLabels(source="shopify", source_record="order", destination="warehouse",
                           destination_record="row")


def stated_amount(payload: dict[str, Any], current: str, original: str) -> float:
    """The shop-currency amount Shopify states now (its original one when absent)."""
    money = payload.get(current) or payload[original]
    return float(money["shop_money"]["amount"])


@dataclass
class OrdersAgainstRows:
    """The reader of one window: the shop's orders in the raw store, the warehouse's rows."""

    conn: sa.Connection
    warehouse: sa.Connection
    entry: ShopifyToWarehouseEntry
    table: sa.Table
    start: date
    end: date
    fields: tuple[FieldSpec, ...] = ORDER_FIELDS
    labels: frames.SideLabels = LABELS
    destination_system: str = "warehouse"
    _read: list[sa.Row[Any]] | None = field(default=None, repr=False)

    def source(self) -> pd.DataFrame:
        skip_tests = self.entry.shopify.test_orders == "skip"
        rows = [{
            "key": r.record_key, "source_id": r.record_key, "version": r.version,
            "currency": p["currency"],
            "total": stated_amount(p, "current_total_price_set", "total_price_set"),
            "tax": stated_amount(p, "current_total_tax_set", "total_tax_set"),
            "financial_status": p.get("financial_status"),
            "voided": p.get("cancelled_at") is not None, "tags": "",
        } for r in raw.window(self.conn, ORDERS, self.start, self.end)
            for p in [r.payload] if not (skip_tests and p.get("test"))]
        frame = pd.DataFrame(rows, columns=list(frames.source_columns(self.fields)))
        frame["version"] = pd.to_datetime(frame["version"], utc=True)
        return frame.astype({"key": "str", "source_id": "str"})

    def _rows(self) -> list[sa.Row[Any]]:
        """The window's rows, read once (the keys and the frame both need them)."""
        if self._read is None:
            t = self.table
            self._read = list(self.warehouse.execute(sa.select(t).where(
                t.c.business_date >= self.start, t.c.business_date < self.end)))
        return self._read

    def destination_keys(self) -> list[str]:
        return [r.external_key for r in self._rows()]

    def destination(self, ledger: pd.DataFrame) -> pd.DataFrame:
        rows = [{"key": r.external_key, "destination_id": r.external_key,
                 "sync_token": r.source_version.isoformat(), "source_id": r.source_id,
                 "currency": r.currency, "total": float(r.current_total),
                 "tax": float(r.current_tax), "financial_status": r.financial_status,
                 "voided": r.voided} for r in self._rows()]
        frame = pd.DataFrame(rows, columns=list(frames.destination_columns(self.fields)))
        return frame.astype({"key": "str"})

    def letter_key(self, payload: Any) -> str | None:
        found = payload.get("id") if isinstance(payload, dict) else None
        return str(found) if found is not None else None
