"""Shopify orders as raw records: what the raw store keys, dates and versions them by.

- kind: `shopify` / `orders` / the shop (`default`: the catalog names one shop per
  integration);
- key: the order id, as text (reads come back in numeric order);
- day: the order's business date, its creation day in the integration's timezone
  (`business_date`, the partition of every pair that reads Shopify orders);
- version: `updated_at`, which Shopify moves on every refund, cancellation and edit;
- facts: `created_at` (ISO 8601). No external key: the DocNumber is the destination's.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from integrations_pipelines.state.raw import DEFAULT_ACCOUNT, RawRecord, RecordKind
from integrations_pipelines.vendors.shopify.models import Order

__all__ = ["ORDERS", "SYSTEM", "business_date", "order_record", "orders_kind"]

SYSTEM = "shopify"


def orders_kind(shop: str = DEFAULT_ACCOUNT) -> RecordKind:
    """The orders of one shop."""
    return RecordKind(SYSTEM, "orders", shop)


ORDERS = orders_kind()


def business_date(order: Order, tz: str = "UTC") -> date:
    """The day an order belongs to (its partition, its invoice's date): its creation day,
    in the integration's local time."""
    return order.created_at.astimezone(ZoneInfo(tz)).date()


def order_record(order: Order, payload: dict[str, Any], day: date) -> RawRecord:
    """One validated order and the payload Shopify returned for it, on business day `day`."""
    return RawRecord(record_key=str(order.id), business_date=day, version=order.updated_at,
                     facts={"created_at": order.created_at.isoformat()}, payload=payload)
