"""Shopify Admin REST client: orders by window, walked through `Link` cursor pagination.

A window's orders come a page at a time (`iter_order_pages`): the next page is requested
only when the caller asks for it, so a caller that stores each page before the next holds
one page of payloads and models, however long the window (a backfill's memory).

Shopify serves a retired API version silently as the oldest supported one and says so only
in `X-Shopify-API-Version`; a deprecated call carries `X-Shopify-API-Deprecated-Reason`.
The client records both on every answer (`served_versions`, `deprecations`) so a check can
warn before the configured version is retired.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
from integrations_pipelines.vendors.contracts import ContractGuard, Screened
from integrations_pipelines.vendors.http import Pacer, VendorHttpClient
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.shopify.models import Order, OrderCount
from integrations_pipelines.vendors.shopify.pacing import ShopifyBucketPacer

__all__ = [
    "DEFAULT_API_VERSION", "MAX_PAGE_SIZE", "ShopifyClient", "make_http_client", "shop_budget",
]

MAX_PAGE_SIZE = 250
DEFAULT_API_VERSION = "2026-10"


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
        request_id_header="X-Request-Id",
        **kw,
    )


class ShopifyClient:
    """Reads orders of one shop. Every order is validated on its own against our `Order`
    model (`contracts`: a violation is recorded, new fields recorded as drift) and returned
    with the raw dict Shopify sent, which is what the raw tables keep; an order that does
    not fit comes back with its error instead, so one bad order never blocks the others."""

    def __init__(self, http: VendorHttpClient, api_version: str = DEFAULT_API_VERSION,
                 contracts: ContractGuard | None = None) -> None:
        self.http = http
        self.api_version = api_version
        self.contracts = contracts or ContractGuard()
        self.served_versions: Counter[str] = Counter()
        self.deprecations: dict[str, str] = {}  # endpoint -> Shopify's reason

    def _path(self, resource: str) -> str:
        return f"/admin/api/{self.api_version}/{resource}"

    def _get(self, path: str, endpoint: str, params: dict[str, Any] | None) -> httpx.Response:
        """One GET, with the version Shopify actually served and any deprecation noted."""
        response = self.http.request("GET", path, endpoint=endpoint, params=params)
        served = response.headers.get("X-Shopify-API-Version")
        if served:
            self.served_versions[served] += 1
        reason = response.headers.get("X-Shopify-API-Deprecated-Reason")
        if reason:
            self.deprecations[endpoint] = reason
        return response

    def iter_orders(self, *, created_at_min: datetime, created_at_max: datetime,
                    status: str = "any", limit: int = MAX_PAGE_SIZE) -> Iterator[Screened[Order]]:
        """Every order created in [created_at_min, created_at_max), all statuses, each once,
        validated (or with the reason it is not valid)."""
        for page in self.iter_order_pages(created_at_min=created_at_min,
                                          created_at_max=created_at_max, status=status,
                                          limit=limit):
            yield from page

    def iter_order_pages(self, *, created_at_min: datetime, created_at_max: datetime,
                         status: str = "any", limit: int = MAX_PAGE_SIZE,
                         ) -> Iterator[list[Screened[Order]]]:
        """The orders created in [created_at_min, created_at_max), all statuses, one page
        (at most `limit` orders) at a time, each validated; a page is requested only when
        the previous one has been taken.

        Shopify's `created_at_max` is inclusive and to the second, so the exclusive window
        end is sent as one second before it.
        """
        return self._pages({
            "status": status, "limit": min(limit, MAX_PAGE_SIZE),
            "created_at_min": created_at_min.isoformat(),
            "created_at_max": (created_at_max - timedelta(seconds=1)).isoformat(),
        })

    def iter_changed_orders(self, *, updated_at_min: datetime, updated_at_max: datetime,
                            limit: int = MAX_PAGE_SIZE) -> Iterator[Screened[Order]]:
        """The change feed: every order (all statuses, created whenever) last updated in
        [updated_at_min, updated_at_max], both inclusive, each once in its current version.

        Pages come in id order, not update order, so the caller closes the window at
        `updated_at_max` and moves its cursor there only after the whole window is read.
        """
        return self._iter_orders({
            "status": "any", "limit": min(limit, MAX_PAGE_SIZE),
            "updated_at_min": updated_at_min.isoformat(),
            "updated_at_max": updated_at_max.isoformat(),
        })

    def iter_orders_by_id(self, order_ids: list[int]) -> Iterator[Screened[Order]]:
        """The current version of each named order (all statuses), `MAX_PAGE_SIZE` ids per
        request (`orders.json?ids=`). An order Shopify no longer has is simply absent."""
        for start in range(0, len(order_ids), MAX_PAGE_SIZE):
            chunk = order_ids[start:start + MAX_PAGE_SIZE]
            yield from self._iter_orders({"status": "any", "limit": MAX_PAGE_SIZE,
                                          "ids": ",".join(str(i) for i in chunk)})

    def _iter_orders(self, params: dict[str, Any] | None) -> Iterator[Screened[Order]]:
        for page in self._pages(params):
            yield from page

    def _pages(self, params: dict[str, Any] | None) -> Iterator[list[Screened[Order]]]:
        """Page through orders.json. A page without an `orders` list is a broken envelope:
        nothing on it can be trusted, so that raises."""
        url: str | None = self._path("orders.json")
        while url:
            response = self._get(url, "orders.list", params)
            body = response.json()
            orders = body.get("orders") if isinstance(body, dict) else None
            if not isinstance(orders, list):
                raise self.contracts.violation(
                    "OrderList", "orders", "missing: orders.json answered without an "
                    "`orders` list", body, vendor="shopify", endpoint="orders.list")
            page = self.contracts.screen_many(Order, orders, vendor="shopify",
                                              endpoint="orders.list")
            # The next page's URL carries page_info and limit only (Shopify rejects others).
            url = response.links.get("next", {}).get("url")
            params = None
            del response, body, orders  # the page is all this frame keeps while it is used
            yield page
            del page

    def count_changed_orders(self, *, updated_at_min: datetime,
                             created_before: datetime | None = None) -> int:
        """How many orders changed since `updated_at_min` (the change sensor's cheap look);
        with `created_before`, only orders created before that moment."""
        params = {"status": "any", "updated_at_min": updated_at_min.isoformat()}
        if created_before is not None:
            params["created_at_max"] = (created_before - timedelta(seconds=1)).isoformat()
        response = self._get(self._path("orders/count.json"), "orders.count", params)
        return self.contracts.validate(OrderCount, response.json(), vendor="shopify",
                                       endpoint="orders.count").count

    def count_orders(self, *, created_at_min: datetime, created_at_max: datetime) -> int:
        """How many orders Shopify says exist in the window (for volume checks)."""
        response = self._get(
            self._path("orders/count.json"), "orders.count",
            {"status": "any", "created_at_min": created_at_min.isoformat(),
             "created_at_max": (created_at_max - timedelta(seconds=1)).isoformat()},
        )
        return self.contracts.validate(OrderCount, response.json(), vendor="shopify",
                                       endpoint="orders.count").count
