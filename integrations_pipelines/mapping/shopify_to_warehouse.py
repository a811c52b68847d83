"""Shopify orders -> rows of the analytics warehouse's orders table (pure: no I/O).

One row per order, keyed by the order id: its number and name, creation time and business
day, the shop's currency and the order's current total and tax in it (after refunds and
edits, as Shopify states them: `current_total_price_set`, `current_total_tax_set`), its
financial status and whether it is a test order. A cancelled order stays a row, flagged
`voided`. Test orders are settled as skipped when the catalog says `test_orders: skip`.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.mapping.shopify_to_warehouse_entry import ShopifyToWarehouseEntry
from integrations_pipelines.sync.roles import MappingSkipped
from integrations_pipelines.vendors.shopify.models import MoneySet, Order
from integrations_pipelines.vendors.shopify.records import business_date
from integrations_pipelines.vendors.warehouse.writer import key_columns

__all__ = ["OrderRow", "map_order", "orders_table", "shop_amount"]


def orders_table(entry: ShopifyToWarehouseEntry) -> sa.Table:
    """The warehouse table of the entry's orders (typed columns; money as NUMERIC)."""
    return sa.Table(
        entry.warehouse.orders_table, sa.MetaData(schema=entry.warehouse.schema_name),
        *key_columns(),
        sa.Column("order_number", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False, index=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("current_total", sa.Numeric(14, 2), nullable=False),
        sa.Column("current_tax", sa.Numeric(14, 2), nullable=False),
        sa.Column("financial_status", sa.Text),
        sa.Column("test", sa.Boolean, nullable=False),
    )


def shop_amount(current: MoneySet | None, original: MoneySet) -> Decimal:
    """An amount in the shop's currency as it stands now (the original when Shopify sent no
    current figure)."""
    return Decimal(str((current or original).shop_money.amount))


@dataclass(frozen=True)
class OrderRow:
    """One order as the warehouse row that states it."""

    source_id: str
    external_key: str
    voided: bool
    source_version: datetime
    order_number: int
    name: str
    created_at: datetime
    business_date: date
    currency: str
    current_total: Decimal
    current_tax: Decimal
    financial_status: str | None
    test: bool

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        for name in ("source_id", "external_key", "voided"):
            del values[name]
        return values

    def payload_hash(self) -> str:
        """The mapped values, without the version: a new version with the same values is
        not a write."""
        values = {k: str(v) for k, v in asdict(self).items() if k != "source_version"}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def map_order(order: Order, entry: ShopifyToWarehouseEntry) -> OrderRow | MappingSkipped:
    """The order's row, or skipped by policy (a test order under `test_orders: skip`)."""
    if order.test and entry.shopify.test_orders == "skip":
        return MappingSkipped("test_order")
    return OrderRow(
        source_id=str(order.id), external_key=str(order.id),
        voided=order.cancelled_at is not None, source_version=order.updated_at,
        order_number=order.order_number, name=order.name, created_at=order.created_at,
        business_date=business_date(order, entry.timezone), currency=order.currency,
        current_total=shop_amount(order.current_total_price_set, order.total_price_set),
        current_tax=shop_amount(order.current_total_tax_set, order.total_tax_set),
        financial_status=order.financial_status, test=order.test,
    )
