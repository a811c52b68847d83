"""Shopify Admin REST client: orders by window, walked through `Link` cursor pagination."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.http import Pacer, VendorHttpClient
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.shopify.models import Order, OrderCount
from integrations_pipelines.vendors.shopify.pacing import ShopifyBucketPacer

MAX_PAGE_SIZE = 250


def shop_budget(engine: sa.Engine, base_url: str, bucket_size: int = 40,
                leak_per_second: float = 2.0) -> SharedRequestBudget:
    """The shop's request budget (the plan's REST bucket), shared with every other process
    calling the shop."""
    return SharedRequestBudget(engine, f"shopify:{urlsplit(base_url).netloc}",
                               [RateLimit.leaky_bucket("bucket", bucket_size, leak_per_second)])


def make_http_client(base_url: str, access_token: str, *, metrics: HttpMetrics | None = None,
                     leak_per_second: float = 2.0, budget: Pacer | None = None,
                     **kw: Any) -> VendorHttpClient:
    """The resilient client configured for one shop: token header, pacing from the shop's
    call-limit header, and the shop's request budget shared with other processes."""
    return VendorHttpClient(
        "shopify",
        base_url,
        auth_headers=lambda: {"X-Shopify-Access-Token": access_token},
        default_headers={"Accept": "application/json"},
        pacers=[ShopifyBucketPacer(leak_per_s=leak_per_second), *([budget] if budget else [])],
        metrics=metrics,
        **kw,
    )


class ShopifyClient:
    """Reads orders of one shop. Every page is validated against our `Order` model first
    (`contracts`: a violation is recorded and raised, new fields recorded as drift); the
    orders are then returned as the raw dicts Shopify sent, which is what the raw tables
    keep."""

    def __init__(self, http: VendorHttpClient, api_version: str = "2025-07",
                 contracts: ContractGuard | None = None) -> None:
        self.http = http
        self.api_version = api_version
        self.contracts = contracts or ContractGuard()

    def _path(self, resource: str) -> str:
        return f"/admin/api/{self.api_version}/{resource}"

    def iter_orders(self, *, created_at_min: datetime, created_at_max: datetime,
                    status: str = "any", limit: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every order created in [created_at_min, created_at_max), all statuses, each once.

        Shopify's `created_at_max` is inclusive and to the second, so the exclusive window
        end is sent as one second before it.
        """
        params: dict[str, Any] | None = {
            "status": status,
            "limit": min(limit, MAX_PAGE_SIZE),
            "created_at_min": created_at_min.isoformat(),
            "created_at_max": (created_at_max - timedelta(seconds=1)).isoformat(),
        }
        url = self._path("orders.json")
        while url:
            response = self.http.request("GET", url, endpoint="orders.list", params=params)
            body = response.json()
            orders = body.get("orders") if isinstance(body, dict) else None
            if not isinstance(orders, list):
                raise self.contracts.violation(
                    "OrderList", "orders", "missing: orders.json answered without an "
                    "`orders` list", body, vendor="shopify", endpoint="orders.list")
            self.contracts.validate_many(Order, orders, vendor="shopify", endpoint="orders.list")
            yield from orders
            # The next page's URL carries page_info and limit only (Shopify rejects others).
            url = response.links.get("next", {}).get("url")
            params = None

    def count_orders(self, *, created_at_min: datetime, created_at_max: datetime) -> int:
        """How many orders Shopify says exist in the window (for volume checks)."""
        response = self.http.request(
            "GET", self._path("orders/count.json"), endpoint="orders.count",
            params={"status": "any", "created_at_min": created_at_min.isoformat(),
                    "created_at_max": (created_at_max - timedelta(seconds=1)).isoformat()},
        )
        return self.contracts.validate(OrderCount, response.json(), vendor="shopify",
                                       endpoint="orders.count").count
