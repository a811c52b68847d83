"""The webhook receiver over real HTTP against the real inbox: a delivery is answered 2xx only
once committed, redeliveries add nothing, and every kind of bad input gets its 4xx and
changes nothing (except a signed malformed body, kept for a human)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.state.tables import webhook_inbox
from integrations_pipelines.vendors.quickbooks import webhooks as qbo_webhooks
from integrations_pipelines.vendors.shopify.webhooks import sign
from integrations_pipelines.webhooks.app import WebhookSecrets, build_receiver
from integrations_pipelines.webhooks.inbox import GroupCommitter

SECRET, OLD_SECRET, VERIFIER = "shpss_current", "shpss_previous", "intuit-verifier"
ROUTE = "/webhooks/shopify/demo-shop"


@pytest.fixture
def receiver(engine):
    secrets = {"value": WebhookSecrets(shopify=(SECRET,), quickbooks=(VERIFIER,))}
    committer = GroupCommitter(engine, max_wait=0.005)
    app = build_receiver(engine, lambda: secrets["value"], max_body=20_000,
                         committer=committer)
    with SandboxServer(app) as server:
        yield server.url, secrets, committer


def deliver(url: str, body: bytes, *, secret: str | None = SECRET, topic="orders/updated",
            webhook_id="wh-1", content_type="application/json", lowercase=False,
            extra: dict | None = None) -> httpx.Response:
    prefix = "shopify-" if lowercase else "X-Shopify-"
    headers = {"Content-Type": content_type, f"{prefix}Topic": topic,
               f"{prefix}Webhook-Id": webhook_id, f"{prefix}Shop-Domain": "demo.myshopify.com",
               f"{prefix}Triggered-At": "2026-12-04T10:00:00.000Z"}
    if secret is not None:
        headers[f"{prefix}Hmac-Sha256"] = sign(body, secret)
    return httpx.post(f"{url}{ROUTE}", content=body, headers={**headers, **(extra or {})},
                      timeout=10)


def rows(engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(webhook_inbox).order_by(webhook_inbox.c.id)))


ORDER = json.dumps({"id": 5500000000000000001, "updated_at": "2026-12-04T10:00:00+00:00"})


def test_a_signed_delivery_is_committed_before_it_is_acknowledged(receiver, engine):
    url, _, _ = receiver
    answer = deliver(url, ORDER.encode())
    assert answer.status_code == 200 and answer.json() == {"ok": True, "status": "pending"}
    [row] = rows(engine)  # committed by the time the answer arrived
    assert (row.vendor, row.connection, row.topic, row.delivery_id, row.status) == (
        "shopify", "demo-shop", "orders/updated", "wh-1", "pending")
    assert row.body == ORDER and row.shop == "demo.myshopify.com"
    assert row.triggered_at is not None


def test_a_redelivery_is_acknowledged_without_a_second_row(receiver, engine):
    url, _, _ = receiver
    assert deliver(url, ORDER.encode()).status_code == 200
    again = deliver(url, ORDER.encode())
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(rows(engine)) == 1


def test_lowercase_shopify_header_names_are_accepted(receiver, engine):
    url, _, _ = receiver
    assert deliver(url, ORDER.encode(), lowercase=True, webhook_id="wh-lc").status_code == 200
    assert [r.delivery_id for r in rows(engine)] == ["wh-lc"]


@pytest.mark.parametrize("case, status", [
    ("no signature", 401), ("wrong signature", 401), ("body changed after signing", 401),
    ("wrong content type", 415), ("body too large", 413), ("no webhook id", 400),
])
def test_bad_deliveries_get_a_clear_4xx_and_change_nothing(receiver, engine, case, status):
    url, _, _ = receiver
    body = ORDER.encode()
    if case == "no signature":
        answer = deliver(url, body, secret=None)
    elif case == "wrong signature":
        answer = deliver(url, body, secret="someone-elses-secret")
    elif case == "body changed after signing":
        answer = deliver(url, body, extra={"X-Shopify-Hmac-Sha256": sign(b"{}", SECRET)})
    elif case == "wrong content type":
        answer = deliver(url, body, content_type="text/plain")
    elif case == "body too large":
        big = json.dumps({"id": 1, "note": "x" * 30_000}).encode()
        answer = deliver(url, big)
    else:
        answer = deliver(url, body, webhook_id="")
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
    assert rows(engine) == []


def test_a_signed_body_that_is_not_json_is_a_400_and_kept_as_malformed(receiver, engine):
    url, _, _ = receiver
    answer = deliver(url, b'{"id": 1, "note": "cut', webhook_id="wh-bad")
    assert answer.status_code == 400
    [row] = rows(engine)
    assert (row.status, row.body) == ("malformed", '{"id": 1, "note": "cut')


def test_an_unknown_topic_is_recorded_as_ignored(receiver, engine):
    url, _, _ = receiver
    answer = deliver(url, b'{"id": 7}', topic="carts/update", webhook_id="wh-cart")
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert [(r.topic, r.status) for r in rows(engine)] == [("carts/update", "ignored")]


def test_during_a_rotation_both_secrets_are_valid_and_then_only_the_new_one(receiver, engine):
    url, secrets, _ = receiver
    secrets["value"] = WebhookSecrets(shopify=(SECRET, OLD_SECRET))  # read per delivery
    assert deliver(url, ORDER.encode(), secret=OLD_SECRET, webhook_id="a").status_code == 200
    assert deliver(url, ORDER.encode(), secret=SECRET, webhook_id="b").status_code == 200
    secrets["value"] = WebhookSecrets(shopify=(SECRET,))
    assert deliver(url, ORDER.encode(), secret=OLD_SECRET, webhook_id="c").status_code == 401
    assert [r.delivery_id for r in rows(engine)] == ["a", "b"]


def test_quickbooks_notifications_are_verified_with_the_intuit_signature(receiver, engine):
    url, _, _ = receiver
    body = json.dumps({"eventNotifications": [{"realmId": "4620816365000000001",
                       "dataChangeEvent": {"entities": [
                           {"name": "Invoice", "id": "130", "operation": "Update",
                            "lastUpdated": "2026-12-04T10:00:00.000Z"}]}}]}).encode()
    route = f"{url}/webhooks/quickbooks/company"
    bad = httpx.post(route, content=body, headers={"Content-Type": "application/json",
                                                    "intuit-signature": "AAAA"}, timeout=10)
    assert bad.status_code == 401
    good = httpx.post(route, content=body, timeout=10, headers={
        "Content-Type": "application/json",
        "intuit-signature": qbo_webhooks.sign(body, VERIFIER)})
    assert good.status_code == 200
    [row] = rows(engine)
    assert row.vendor == "quickbooks" and row.delivery_id == qbo_webhooks.delivery_id(body)


@pytest.mark.slow  # a burst of concurrent deliveries
def test_concurrent_deliveries_share_commits_and_none_is_lost(receiver, engine):
    url, _, committer = receiver
    bodies = [json.dumps({"id": n, "updated_at": "2026-12-04T10:00:00+00:00"}).encode()
              for n in range(200)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda n: deliver(url, bodies[n], webhook_id=f"wh-{n}"),
                                range(200)))
    assert [a.status_code for a in answers] == [200] * 200
    assert sorted(r.delivery_id for r in rows(engine)) == sorted(f"wh-{n}" for n in range(200))
    assert committer.committed == 200 and committer.batches < 200  # grouped
