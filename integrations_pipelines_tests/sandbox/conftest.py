"""Real sandbox servers on loopback for the sandbox tests."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore
from integrations_pipelines.sandbox.server import SandboxServer, start_quickbooks, start_shopify
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.sandbox.shopify_store import ShopifyStore

TOKEN = "shpat_test_token"
REALM = "4620816365000000001"
CLIENT = ("test-client", "test-secret")


@pytest.fixture(scope="session")
def shop_orders() -> list[dict[str, Any]]:
    """A 500-order shop (10 days x 50), the size in which every edge case appears."""
    return generate_shop(42, datetime.date(2026, 11, 1), 10, 50)


@pytest.fixture
def shopify(shop_orders: list[dict[str, Any]]) -> Iterator[tuple[SandboxServer, ShopifyStore]]:
    server, store = start_shopify(shop_orders, access_token=TOKEN)
    with server:
        yield server, store


@pytest.fixture
def shopify_client(shopify: tuple[SandboxServer, ShopifyStore]) -> Iterator[httpx.Client]:
    server, _ = shopify
    with httpx.Client(base_url=f"{server.url}/admin/api/2025-07",
                      headers={"X-Shopify-Access-Token": TOKEN}, timeout=10) as client:
        yield client


@pytest.fixture
def quickbooks() -> Iterator[tuple[SandboxServer, QuickBooksStore]]:
    server, store = start_quickbooks(realm_id=REALM, client_id=CLIENT[0],
                                     client_secret=CLIENT[1], refresh_token="rt-initial")
    with server:
        yield server, store


def refresh(server: SandboxServer, refresh_token: str) -> httpx.Response:
    """Call the OAuth2 token endpoint as an Intuit client does."""
    return httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=CLIENT,
                      data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                      headers={"Accept": "application/json"})


@pytest.fixture
def qbo(quickbooks: tuple[SandboxServer, QuickBooksStore]) -> Iterator[httpx.Client]:
    """A client with a live access token, rooted at the company's API base."""
    server, _ = quickbooks
    token = refresh(server, "rt-initial").json()["access_token"]
    with httpx.Client(base_url=f"{server.url}/v3/company/{REALM}",
                      headers={"Authorization": f"Bearer {token}",
                               "Accept": "application/json"},
                      params={"minorversion": "75"}, timeout=10) as client:
        yield client
