"""Shopify sandbox: listing, pagination, auth and rate limit, over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx

from integrations_pipelines.sandbox.server import start_shopify
from integrations_pipelines.sandbox.shopify_store import ShopifyStore

from .conftest import TOKEN


def next_link(response: httpx.Response) -> str | None:
    match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
    return match.group(1) if match else None


def test_pagination_walks_every_order_once(shopify_client: httpx.Client,
                                           shop_orders: list[dict[str, Any]]) -> None:
    seen: list[int] = []
    response = shopify_client.get("/orders.json", params={"status": "any", "limit": 37})
    assert "link" not in response.headers or 'rel="previous"' not in response.headers["link"]
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        seen += [o["id"] for o in response.json()["orders"]]
        pages += 1
        url = next_link(response)
        if url is None:
            break
        assert "page_info=" in url and "status" not in url
        response = shopify_client.get(url)
        assert 'rel="previous"' in response.headers["link"]
    assert seen == sorted(o["id"] for o in shop_orders)
    assert pages == -(-len(shop_orders) // 37)


def test_previous_link_goes_back(shopify_client: httpx.Client) -> None:
    first = shopify_client.get("/orders.json", params={"status": "any", "limit": 10})
    second = shopify_client.get(next_link(first))
    prev = re.search(r'<([^>]+)>; rel="previous"', second.headers["link"]).group(1)
    again = shopify_client.get(prev)
    assert [o["id"] for o in again.json()["orders"]] == [o["id"] for o in first.json()["orders"]]


def test_page_info_rejects_other_filters(shopify_client: httpx.Client) -> None:
    first = shopify_client.get("/orders.json", params={"status": "any", "limit": 5})
    url = httpx.URL(next_link(first))
    bad = shopify_client.get(url.copy_add_param("status", "any"))
    assert bad.status_code == 400 and "errors" in bad.json()
    fields = shopify_client.get(url.copy_add_param("fields", "id,name"))
    assert fields.status_code == 200
    assert set(fields.json()["orders"][0]) == {"id", "name"}


def test_limit_over_250_is_400_and_single_page_has_no_link(shopify_client: httpx.Client) -> None:
    assert shopify_client.get("/orders.json", params={"limit": 251}).status_code == 400
    one = shopify_client.get("/orders.json", params={"status": "any", "limit": 250,
                                                     "ids": "1,2"})
    assert one.status_code == 200 and "link" not in one.headers


def test_status_default_open_and_filters(shopify_client: httpx.Client,
                                         shop_orders: list[dict[str, Any]]) -> None:
    total = shopify_client.get("/orders/count.json", params={"status": "any"}).json()["count"]
    open_count = shopify_client.get("/orders/count.json").json()["count"]
    assert total == len(shop_orders) > open_count
    cancelled = shopify_client.get("/orders/count.json", params={"status": "cancelled"})
    assert cancelled.json()["count"] == sum(1 for o in shop_orders if o["cancelled_at"])
    pivot = shop_orders[100]["updated_at"]
    window = shopify_client.get("/orders/count.json", params={
        "status": "any", "updated_at_min": pivot, "updated_at_max": pivot})
    assert window.json()["count"] == sum(1 for o in shop_orders if o["updated_at"] == pivot)


def test_single_order_and_404(shopify_client: httpx.Client,
                              shop_orders: list[dict[str, Any]]) -> None:
    order = shop_orders[3]
    got = shopify_client.get(f"/orders/{order['id']}.json")
    assert got.json()["order"] == order
    missing = shopify_client.get("/orders/1234567890123456789.json")
    assert missing.status_code == 404 and missing.json() == {"errors": "Not Found"}


def test_wrong_token_is_401(shopify_client: httpx.Client) -> None:
    response = shopify_client.get("/orders.json", headers={"X-Shopify-Access-Token": "nope"})
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


def test_leaky_bucket_429_with_float_retry_after() -> None:
    server, _ = start_shopify([], access_token=TOKEN, bucket_capacity=5, leak_rate=0.5)
    with server, httpx.Client(base_url=server.url,
                              headers={"X-Shopify-Access-Token": TOKEN}) as client:
        answers = [client.get("/admin/api/2025-07/orders/count.json") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["x-shopify-shop-api-call-limit"] == "1/5"
    assert answers[4].headers["x-shopify-shop-api-call-limit"] == "5/5"
    limited = answers[5]
    assert limited.headers["x-shopify-shop-api-call-limit"] == "5/5"
    assert re.fullmatch(r"\d+\.\d", limited.headers["retry-after"])
    assert 1.5 <= float(limited.headers["retry-after"]) <= 2.0
    assert "Exceeded 2 calls per second" in limited.json()["errors"]


def test_admin_refund_cancel_patch_delete(shopify: tuple[Any, ShopifyStore],
                                          shopify_client: httpx.Client) -> None:
    server, store = shopify
    plain = next(o for o in store.list_orders() if not o["tags"] and o["line_items"]
                 and o["financial_status"] == "paid")
    admin = httpx.Client(base_url=f"{server.url}/_sandbox")
    refund = admin.post(f"/orders/{plain['id']}/refund",
                        json={"amount": "1.00", "at": "2026-11-20T10:00:00+00:00"}).json()
    assert refund["order"]["financial_status"] == "partially_refunded"
    assert refund["order"]["updated_at"] == "2026-11-20T10:00:00+00:00"
    assert refund["refund"]["transactions"][0]["currency"] == plain["presentment_currency"]
    cancelled = admin.post(f"/orders/{plain['id']}/cancel", json={"reason": "fraud"}).json()
    assert cancelled["order"]["cancel_reason"] == "fraud"
    assert cancelled["order"]["financial_status"] == "refunded"
    assert cancelled["order"]["current_total_price"] == "0.00"
    patched = admin.patch(f"/orders/{plain['id']}", json={"email": "new@example.com"}).json()
    assert patched["order"]["email"] == "new@example.com"
    assert shopify_client.get(f"/orders/{plain['id']}.json").json()["order"]["email"] == (
        "new@example.com")
    assert admin.delete(f"/orders/{plain['id']}").json() == {"deleted": True}
    assert shopify_client.get(f"/orders/{plain['id']}.json").status_code == 404
    admin.post("/reset")
    assert store.get_order(plain["id"]) == plain


def test_schema_drift(shopify: tuple[Any, ShopifyStore], shopify_client: httpx.Client) -> None:
    server, store = shopify
    httpx.post(f"{server.url}/_sandbox/faults", json={"schema_drift": {
        "total_price_as_object": True, "drop_field": "email", "page_size_cap": 7}})
    response = shopify_client.get("/orders.json", params={"status": "any", "limit": 50})
    orders = response.json()["orders"]
    assert len(orders) == 7 and next_link(response) is not None
    assert isinstance(orders[0]["total_price"], dict) and "email" not in orders[0]
    store.faults.update({"schema_drift": {"total_price_as_object": None, "drop_field": None,
                                          "page_size_cap": None}})
    assert isinstance(shopify_client.get("/orders.json").json()["orders"][0]["total_price"], str)


def test_persistence_roundtrip(tmp_path: Any, shop_orders: list[dict[str, Any]]) -> None:
    store = ShopifyStore(shop_orders[:20], access_token=TOKEN)
    store.refund_order(shop_orders[0]["id"], "2.00")
    store.save(tmp_path / "shop.json")
    again = ShopifyStore.load(tmp_path / "shop.json")
    assert again.list_orders() == store.list_orders()
    assert again.access_token == TOKEN
