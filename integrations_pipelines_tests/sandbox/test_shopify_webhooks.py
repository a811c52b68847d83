"""The Shopify sandbox sends webhooks the way Shopify does, to a real endpoint over HTTP:
subscriptions through the REST `webhooks.json` resource, signed bare-resource bodies with
Shopify's headers, retries that keep the webhook id, and the faults a receiver must survive
(drops, duplicates, reordering, an outage, a subscription Shopify removes)."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from integrations_pipelines.sandbox.server import SandboxServer, start_shopify
from integrations_pipelines.sandbox.shopify_store import ShopifyStore
from integrations_pipelines.vendors.shopify.webhooks import delivery_headers, verify

from .conftest import TOKEN
from .receiver import Receiver, serve_receiver

SECRET = "shpss_test_client_secret"
Shop = tuple[SandboxServer, ShopifyStore, httpx.Client]


def open_shop(orders: list[dict[str, Any]], **kwargs: Any) -> tuple[SandboxServer, ShopifyStore]:
    kwargs.setdefault("webhook_retry_base_seconds", 0.005)
    return start_shopify(copy.deepcopy(orders), access_token=TOKEN, webhook_secret=SECRET,
                         **kwargs)


@pytest.fixture
def shop(shop_orders: list[dict[str, Any]]) -> Iterator[Shop]:
    server, store = open_shop(shop_orders[:10])
    with server, httpx.Client(base_url=f"{server.url}/admin/api/2025-07", timeout=10,
                              headers={"X-Shopify-Access-Token": TOKEN}) as client:
        yield server, store, client


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Receiver]]:
    with serve_receiver() as served:
        yield served


def subscribe(client: httpx.Client, topic: str, address: str) -> dict[str, Any]:
    answer = client.post("/webhooks.json",
                         json={"webhook": {"topic": topic, "address": address, "format": "json"}})
    assert answer.status_code == 201, answer.text
    return answer.json()["webhook"]


def test_the_webhook_resource_creates_lists_counts_reads_and_deletes(shop: Shop) -> None:
    _, _, client = shop
    answer = client.post("/webhooks.json", json={"webhook": {
        "topic": "orders/create", "address": "https://app.example.com/hooks", "format": "json"}})
    assert answer.status_code == 201
    made = answer.json()["webhook"]
    assert set(made) == {"id", "address", "topic", "created_at", "updated_at", "format",
                         "fields", "metafield_namespaces", "api_version"}
    assert made["topic"] == "orders/create" and made["format"] == "json"
    # a retired version is served as the oldest supported one, and deliveries use that
    assert made["api_version"] == answer.headers["x-shopify-api-version"]
    assert made["fields"] == [] and made["metafield_namespaces"] == []
    other = subscribe(client, "refunds/create", "https://app.example.com/hooks")
    assert [w["id"] for w in client.get("/webhooks.json").json()["webhooks"]] == [
        made["id"], other["id"]]
    only = client.get("/webhooks.json", params={"topic": "refunds/create"}).json()["webhooks"]
    assert [w["id"] for w in only] == [other["id"]]
    assert client.get("/webhooks/count.json").json() == {"count": 2}
    assert client.get(f"/webhooks/{made['id']}.json").json() == {"webhook": made}
    deleted = client.delete(f"/webhooks/{made['id']}.json")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert client.get(f"/webhooks/{made['id']}.json").status_code == 404
    assert client.get("/webhooks/count.json").json() == {"count": 1}
    unauthorized = httpx.get(f"{client.base_url}webhooks.json")
    assert unauthorized.status_code == 401


def test_bad_subscriptions_are_422_with_shopify_errors(shop: Shop) -> None:
    _, store, client = shop

    def create(topic: str, address: str) -> httpx.Response:
        return client.post("/webhooks.json",
                           json={"webhook": {"topic": topic, "address": address}})

    unknown = create("orders/exploded", "https://app.example.com/hooks")
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["topic"][0].startswith("Invalid topic specified")
    assert create("orders/create", "ftp://app.example.com/hooks").status_code == 422
    assert create("orders/create", "not a url").json()["errors"] == {"address": ["is invalid"]}
    assert create("orders/create", "https://app.example.com/hooks").status_code == 201
    taken = create("orders/create", "https://app.example.com/hooks")
    assert taken.status_code == 422
    assert taken.json() == {"errors": {"address": ["for this topic has already been taken"]}}
    assert create("orders/updated", "https://app.example.com/hooks").status_code == 201
    assert len(store.webhooks.subscriptions()) == 2


def test_a_new_order_is_one_signed_orders_create_with_shopify_headers(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    _, store, client = shop
    url, receiver = endpoint
    sub = subscribe(client, "orders/create", url)
    subscribe(client, "orders/updated", url)
    order = {**store.list_orders()[0], "id": 5500009999999999001, "name": "#9001"}
    store.upsert_orders([order])
    assert store.webhooks.wait_idle(5)
    [got] = receiver.accepted()
    assert verify(got.body, got.headers, [SECRET])
    assert not verify(got.body, got.headers, ["another-secret"])
    assert got.json() == order  # the bare resource, ids exact
    assert got.headers["content-type"] == "application/json"
    meta = delivery_headers(got.headers)
    assert meta.topic == "orders/create" and meta.shop == store.shop_domain
    assert meta.api_version == sub["api_version"]
    assert uuid.UUID(meta.delivery_id) and uuid.UUID(meta.event_id)
    assert got.headers["x-shopify-triggered-at"].endswith("Z")
    assert isinstance(meta.triggered_at, datetime)

    store.upsert_orders([{**order, "note": "changed"}])  # the same id again: an update
    [_, again] = receiver.wait_for(2)
    assert again.headers["x-shopify-topic"] == "orders/updated"
    assert again.json()["note"] == "changed"
    assert again.headers["x-shopify-webhook-id"] != got.headers["x-shopify-webhook-id"]
    assert store.stats["webhooks_delivered"] == 2


def test_refunds_and_cancellations_fire_their_topics(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    _, store, client = shop
    url, receiver = endpoint
    for topic in ("refunds/create", "orders/updated", "orders/cancelled"):
        subscribe(client, topic, url)
    paid = next(o for o in store.list_orders() if o["financial_status"] == "paid")
    refund = store.refund_order(paid["id"], "1.00", note="scratched")
    assert store.webhooks.wait_idle(5)
    by_topic = {r.headers["x-shopify-topic"]: r.json() for r in receiver.accepted()}
    assert set(by_topic) == {"refunds/create", "orders/updated"}
    assert by_topic["refunds/create"]["id"] == refund["id"]
    assert by_topic["refunds/create"]["order_id"] == paid["id"]
    assert by_topic["orders/updated"]["id"] == paid["id"]
    assert refund["id"] in [r["id"] for r in by_topic["orders/updated"]["refunds"]]

    store.cancel_order(paid["id"], reason="customer")
    assert store.webhooks.wait_idle(5)
    later = [(r.headers["x-shopify-topic"], r.json()) for r in receiver.accepted()[2:]]
    topics = [t for t, _ in later]
    assert sorted(topics) == ["orders/cancelled", "orders/updated", "refunds/create"]
    cancelled = dict(later)["orders/cancelled"]
    assert cancelled["id"] == paid["id"] and cancelled["cancelled_at"] is not None
    assert dict(later)["refunds/create"]["order_id"] == paid["id"]  # the rest refunded


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    server, store, client = shop
    url, receiver = endpoint
    subscribe(client, "orders/updated", url)
    receiver.fail_first = 2
    first = store.list_orders()[0]
    store.patch_order(first["id"], {"note": "gift wrap"})
    assert store.webhooks.wait_idle(5)
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert len({r.headers["x-shopify-webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert store.stats["webhooks_retried"] == 2 and store.stats["webhooks_delivered"] == 1
    [log] = httpx.get(f"{server.url}/_sandbox/webhooks/deliveries").json()["deliveries"]
    assert log["status"] == "delivered" and log["attempts"] == 3 and log["last_status"] == 200
    assert log["webhook_id"] == receiver.requests[0].headers["x-shopify-webhook-id"]


def test_duplicates_share_the_webhook_id(shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    server, store, client = shop
    url, receiver = endpoint
    subscribe(client, "orders/updated", url)
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhook_duplicate_rate": 1.0})
    store.patch_order(store.list_orders()[0]["id"], {"note": "twice"})
    assert store.webhooks.wait_idle(5)
    one, two = receiver.accepted()
    assert one.headers["x-shopify-webhook-id"] == two.headers["x-shopify-webhook-id"]
    assert one.body == two.body and verify(two.body, two.headers, [SECRET])
    assert store.faults.injected["webhook_duplicate"] == 1
    assert store.stats["webhooks_duplicated"] == 1


def test_a_dropped_webhook_is_never_sent_and_is_counted(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    server, store, client = shop
    url, receiver = endpoint
    subscribe(client, "orders/updated", url)
    store.faults.update({"webhook_drop_rate": 1.0})
    store.patch_order(store.list_orders()[0]["id"], {"note": "lost"})
    assert store.webhooks.wait_idle(5)
    assert receiver.requests == []
    [log] = httpx.get(f"{server.url}/_sandbox/webhooks/deliveries").json()["deliveries"]
    assert log["status"] == "dropped" and log["attempts"] == 0
    assert store.faults.injected["webhook_drop"] == 1 and store.stats["webhooks_dropped"] == 1


def test_the_drop_knob_is_seeded(shop_orders: list[dict[str, Any]]) -> None:
    patterns = []
    for _ in range(2):
        server, store = open_shop(shop_orders[:10], faults={"seed": 7, "webhook_drop_rate": 0.5})
        with server:
            store.webhooks.subscribe("orders/updated", "http://127.0.0.1:9/never", "2025-07")
            store.faults.update({"webhooks_paused": True})  # only the decision matters here
            for order in store.list_orders():
                store.patch_order(order["id"], {"note": "x"})
            patterns.append([d["status"] for d in store.webhooks.deliveries()])
    assert patterns[0] == patterns[1]
    assert {"dropped", "pending"} == set(patterns[0])


def test_a_reordered_webhook_arrives_after_the_next_one(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    server, store, client = shop
    url, receiver = endpoint
    subscribe(client, "orders/updated", url)
    first, second = store.list_orders()[:2]
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhook_reorder_rate": 1.0})
    store.patch_order(first["id"], {"note": "first"})
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhook_reorder_rate": 0.0})
    store.patch_order(second["id"], {"note": "second"})
    assert store.webhooks.wait_idle(5)
    assert [r.json()["id"] for r in receiver.accepted()] == [second["id"], first["id"]]
    assert store.faults.injected["webhook_reorder"] == 1


def test_nothing_is_sent_while_paused_and_the_queue_drains_after(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    server, store, client = shop
    url, receiver = endpoint
    subscribe(client, "orders/updated", url)
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhooks_paused": True})
    ids = [o["id"] for o in store.list_orders()[:3]]
    for ident in ids:
        store.patch_order(ident, {"note": "during the outage"})
    assert not store.webhooks.wait_idle(0.3)
    assert receiver.requests == []
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhooks_paused": False})
    assert store.webhooks.wait_idle(5)
    assert sorted(r.json()["id"] for r in receiver.accepted()) == sorted(ids)
    assert store.faults.injected["webhooks_paused"] == 3


def test_a_deleted_subscription_gets_nothing_more(
        shop: Shop, endpoint: tuple[str, Receiver]) -> None:
    _, store, client = shop
    url, receiver = endpoint
    sub = subscribe(client, "orders/updated", url)
    assert client.delete(f"/webhooks/{sub['id']}.json").status_code == 200
    store.patch_order(store.list_orders()[0]["id"], {"note": "after the delete"})
    assert store.webhooks.wait_idle(1)
    assert receiver.requests == [] and store.webhooks.deliveries() == []


def test_shopify_removes_a_subscription_whose_deliveries_keep_failing(
        shop_orders: list[dict[str, Any]], endpoint: tuple[str, Receiver]) -> None:
    url, receiver = endpoint
    server, store = open_shop(shop_orders[:5], webhook_retry_base_seconds=0.001,
                              webhook_removal_after=2)
    with server:
        sub = store.webhooks.subscribe("orders/updated", url, "2025-07")
        receiver.fail_first = 1_000
        ids = [o["id"] for o in store.list_orders()]
        store.patch_order(ids[0], {"note": "one"})
        assert store.webhooks.wait_idle(5)
        assert len(receiver.requests) == 9  # the first try and 8 retries
        assert store.webhooks.subscription(sub["id"]) is not None  # one failure: kept
        store.patch_order(ids[1], {"note": "two"})
        assert store.webhooks.wait_idle(5)
        assert store.webhooks.subscription(sub["id"]) is None  # two in a row: removed
        assert store.stats["webhooks_failed"] == 2
        assert store.stats["webhook_subscriptions_removed"] == 1
        assert [d["status"] for d in store.webhooks.deliveries()] == ["failed", "failed"]
        store.patch_order(ids[2], {"note": "three"})
        assert len(store.webhooks.deliveries()) == 2  # nothing queued for a removed one


def test_by_default_one_exhausted_delivery_removes_the_subscription(
        shop_orders: list[dict[str, Any]]) -> None:
    server, store = open_shop(shop_orders[:3], webhook_retry_base_seconds=0.001)
    with server:
        store.webhooks.subscribe("orders/updated", "http://127.0.0.1:9/closed-port", "2025-07")
        store.patch_order(store.list_orders()[0]["id"], {"note": "x"})
        assert store.webhooks.wait_idle(10)
        [log] = store.webhooks.deliveries()
        assert log["status"] == "failed" and log["attempts"] == 9 and log["last_status"] is None
        assert store.webhooks.subscriptions() == []


def test_subscriptions_survive_a_save_and_reset_clears_them(
        shop_orders: list[dict[str, Any]]) -> None:
    server, store = open_shop(shop_orders[:3])
    with server:
        made = store.webhooks.subscribe("orders/create", "https://app.example.com/h", "2025-07")
        loaded = ShopifyStore.from_json(store.to_json(), webhook_secret=SECRET)
        assert loaded.webhooks.subscriptions() == [made]
        again = loaded.webhooks.subscribe("orders/updated", "https://app.example.com/h", "x")
        assert again["id"] > made["id"]
        store.reset()
        assert store.webhooks.subscriptions() == [] and store.webhooks.deliveries() == []


def test_stopping_the_server_stops_the_sender(shop_orders: list[dict[str, Any]]) -> None:
    server, store = open_shop(shop_orders[:3])
    store.webhooks.subscribe("orders/updated", "http://127.0.0.1:9/x", "2025-07")
    store.faults.update({"webhooks_paused": True})
    store.patch_order(store.list_orders()[0]["id"], {"note": "x"})

    def senders() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name == store.webhooks.name]

    assert senders() != []
    server.stop()
    assert senders() == []
