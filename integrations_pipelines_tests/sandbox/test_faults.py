"""Fault injection: dropped connections, writes whose answer never arrives, 5xx, storms."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore
from integrations_pipelines.sandbox.server import SandboxServer, start_shopify
from integrations_pipelines.sandbox.shopify_store import ShopifyStore
from integrations_pipelines_tests.builders import invoice_body

from .conftest import TOKEN
from .test_quickbooks import customer


def test_drop_response_after_write_really_writes(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, store = quickbooks
    cust = customer(qbo, "Hana Patel")
    httpx.post(f"{server.url}/_sandbox/faults", json={"drop_response_after_write": True})
    with pytest.raises(httpx.RemoteProtocolError):
        qbo.post("/invoice", params={"requestid": "order-77"}, json=invoice_body(cust["Id"]))
    assert len(store.all_invoices()) == 1
    store.faults.update({"drop_response_after_write": False})
    retry = qbo.post("/invoice", params={"requestid": "order-77"}, json=invoice_body(cust["Id"]))
    assert retry.status_code == 200
    assert retry.json()["Invoice"]["Id"] == store.all_invoices()[0]["Id"]
    assert len(store.all_invoices()) == 1


def test_hang_after_write(quickbooks: tuple[SandboxServer, QuickBooksStore],
                          qbo: httpx.Client) -> None:
    _, store = quickbooks
    cust = customer(qbo, "Diego Silva")
    store.faults.update({"hang_after_write_seconds": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        qbo.post("/invoice", json=invoice_body(cust["Id"]), timeout=0.3)
    assert len(store.all_invoices()) == 1
    store.faults.update({"hang_after_write_seconds": 0})


def test_connection_reset_and_5xx_and_storm() -> None:
    server, store = start_shopify([], access_token=TOKEN,
                                  faults={"connection_reset_rate": 1.0})
    with server, httpx.Client(base_url=f"{server.url}/admin/api/2025-07",
                              headers={"X-Shopify-Access-Token": TOKEN}) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/orders.json")
        assert httpx.get(f"{server.url}/_sandbox/orders").status_code == 200
        store.faults.update({"connection_reset_rate": 0, "error_rate_5xx": 1.0})
        assert client.get("/orders.json").status_code in (500, 502, 503)
        store.faults.update({"error_rate_5xx": 0, "rate_limit_storm": 2})
        storm = [client.get("/orders.json") for _ in range(3)]
        assert [r.status_code for r in storm] == [429, 429, 200]
        assert float(storm[0].headers["retry-after"]) == 2.0
        assert store.faults.injected["connection_reset"] == 1


def test_error_rate_is_seeded_and_partial() -> None:
    def outcomes() -> list[int]:
        server, _ = start_shopify([], access_token=TOKEN,
                                  faults={"error_rate_5xx": 0.5, "seed": 3})
        with server, httpx.Client(headers={"X-Shopify-Access-Token": TOKEN}) as client:
            return [client.get(f"{server.url}/admin/api/2025-07/orders/count.json").status_code
                    for _ in range(20)]
    first = outcomes()
    assert first == outcomes()
    assert 200 in first and any(code >= 500 for code in first)


def test_latency_and_faults_endpoint(shopify: tuple[SandboxServer, ShopifyStore],
                                     shopify_client: httpx.Client) -> None:
    server, _ = shopify
    knobs: dict[str, Any] = httpx.post(f"{server.url}/_sandbox/faults",
                                       json={"latency_ms": 200}).json()
    assert knobs["latency_ms"] == 200
    with pytest.raises(httpx.ReadTimeout):
        shopify_client.get("/orders/count.json", timeout=0.05)
    assert httpx.post(f"{server.url}/_sandbox/faults", json={"bogus": 1}).status_code == 400
