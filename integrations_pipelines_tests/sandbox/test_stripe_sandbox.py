"""The Stripe sandbox answers like Stripe: its seeded account's money adds up, its lists
and errors have Stripe's shape, its read limit answers 429, and its outage is 5xx and
timeouts for a compressed stretch of time."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date

import httpx
import pytest

from integrations_pipelines.sandbox.stripe_account import generate_account, midnight
from integrations_pipelines.sandbox.stripe_app import start_stripe

KEY = {"Authorization": "Bearer sk_test_sandbox"}
BLACK_FRIDAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def account():
    return generate_account(seed=7, start=date(2026, 11, 24), days=5, charges_per_day=60,
                            black_friday=BLACK_FRIDAY)


@pytest.fixture
def stripe(account):
    server, store = start_stripe(account)
    yield server, store
    server.stop()


def test_the_seeded_account_has_the_shapes_of_a_real_one(account):
    txns = account.objects["balance_transactions"].values()
    assert all(t["net"] == t["amount"] - t["fee"] for t in txns)
    kinds = Counter((t["type"], t["reporting_category"]) for t in txns)
    assert {("charge", "charge"), ("refund", "refund"), ("adjustment", "dispute"),
            ("payout", "payout")} <= set(kinds)
    currencies = Counter(c["currency"] for c in account.objects["charges"].values())
    assert {"usd", "eur", "jpy", "krw", "bhd", "kwd"} <= set(currencies)
    converted = [t for t in txns if t["exchange_rate"]]
    assert converted and all(t["currency"] == "usd" for t in converted)
    partial = [c for c in account.objects["charges"].values()
               if 0 < c["amount_refunded"] < c["amount"]]
    assert partial
    for payout, items in account.payout_items.items():
        paid = account.objects["payouts"][payout]
        nets = [account.objects["balance_transactions"][i] for i in items]
        assert sum(t["net"] for t in nets if t["type"] != "payout") == paid["amount"]
        assert {t["currency"] for t in nets} == {paid["currency"]}
    counts = account.day_counts(BLACK_FRIDAY)
    assert counts["charges"] == 600 and account.day_counts(date(2026, 11, 25))["charges"] == 60


def test_lists_have_stripes_envelope_order_and_cursors(stripe):
    server, _ = stripe
    start = midnight(BLACK_FRIDAY)
    params = {"created[gte]": start, "created[lt]": start + 86400, "limit": 100}
    first = httpx.get(f"{server.url}/v1/charges", params=params, headers=KEY)
    body = first.json()
    assert set(body) == {"object", "data", "has_more", "url"} and body["has_more"]
    assert first.headers["request-id"].startswith("req_")
    assert first.headers["stripe-version"] == "2026-10-28"
    created = [c["created"] for c in body["data"]]
    assert created == sorted(created, reverse=True)  # newest first
    after = httpx.get(f"{server.url}/v1/charges", headers=KEY,
                      params={**params, "starting_after": body["data"][-1]["id"]}).json()
    assert after["data"][0]["created"] <= created[-1]
    assert not {c["id"] for c in after["data"]} & {c["id"] for c in body["data"]}
    back = httpx.get(f"{server.url}/v1/charges", headers=KEY,
                     params={**params, "ending_before": after["data"][0]["id"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in body["data"]]
    assert httpx.get(f"{server.url}/v1/charges", headers=KEY).json()["data"].__len__() == 10


@pytest.mark.parametrize(("params", "status", "code", "param"), [
    ({"limit": 101}, 400, "parameter_invalid_integer", "limit"),
    ({"colour": "red"}, 400, "parameter_unknown", "colour"),
    ({"starting_after": "ch_nope"}, 400, "resource_missing", "starting_after"),
])
def test_bad_requests_get_stripes_error_object(stripe, params, status, code, param):
    server, _ = stripe
    answer = httpx.get(f"{server.url}/v1/charges", params=params, headers=KEY)
    error = answer.json()["error"]
    assert answer.status_code == status and error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == (code, param)
    missing = httpx.get(f"{server.url}/v1/payouts/po_nope", headers=KEY)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    assert httpx.get(f"{server.url}/v1/charges").status_code == 401


def test_the_test_mode_read_limit_answers_429(stripe):
    server, store = stripe
    with httpx.Client(base_url=server.url, headers=KEY) as client:
        statuses = Counter(client.get("/v1/payouts", params={"limit": 1}).status_code
                           for _ in range(60))
    assert statuses[429] > 0 and statuses[200] >= 25
    store.limiter = type(store.limiter)()


def test_the_outage_is_server_errors_and_timeouts_for_its_compressed_duration(stripe):
    server, store = stripe
    store.outage.start(minutes=90, seconds_per_minute=0.02, timeout_share=0.3, hang_s=0.3)
    statuses = Counter()
    with httpx.Client(base_url=server.url, headers=KEY, timeout=0.1) as client:
        while store.outage.active():
            try:
                statuses[client.get("/v1/payouts").status_code] += 1
            except httpx.TimeoutException:
                statuses["timeout"] += 1
            time.sleep(0.05)
        assert client.get("/v1/payouts").status_code == 200  # over after 90 "minutes"
    assert statuses["timeout"] > 0 and set(statuses) - {"timeout"} <= {500, 502, 503}
    stats = store.outage.snapshot()
    assert stats["timeouts"] == statuses["timeout"] and stats["real_seconds"] == 1.8


def test_dev_keeps_its_seeded_account_across_restarts(tmp_path):
    from integrations_pipelines.sandbox import stripe_seed

    server, store, env = stripe_seed.start_seeded(tmp_path, days=3, charges_per_day=20)
    try:
        listed = httpx.get(f"{env['STRIPE_BASE_URL']}/v1/charges", params={"limit": 100},
                           headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"})
        assert len(listed.json()["data"]) == 60
        stripe_seed.save(store, tmp_path)
    finally:
        server.stop()
    again, restored, _ = stripe_seed.start_seeded(tmp_path, days=3)
    again.stop()
    assert restored.ledger.objects == store.ledger.objects
    assert restored.ledger.payout_items == store.ledger.payout_items
