"""The Stripe source against the Stripe sandbox over HTTP: money in minor units, the list
envelope walked by day window, errors with Stripe's request id, Stripe's retry header, the
pinned API version, the signature scheme and the shared read budget."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from integrations_pipelines.sandbox.stripe_account import generate_account, midnight
from integrations_pipelines.sandbox.stripe_app import start_stripe
from integrations_pipelines.vendors.errors import PermanentVendorError, RetriesExhaustedError
from integrations_pipelines.vendors.stripe import money, webhooks
from integrations_pipelines.vendors.stripe.client import READ_LIMITS, connect
from integrations_pipelines.vendors.stripe.settings import StripeSettings, key_mode

DAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def stripe():
    ledger = generate_account(seed=3, start=date(2026, 11, 20), days=4, charges_per_day=140)
    server, store = start_stripe(ledger)
    yield server, store
    server.stop()


def _conf(server, key: str = "sk_test_sandbox", version: str | None = None) -> StripeSettings:
    return StripeSettings(api_key=key, base_url=server.url, api_version=version)


def _day(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), UTC)
    return start, start + timedelta(days=1)


@pytest.mark.parametrize(("amount", "currency", "major"), [
    (1999, "usd", Decimal("19.99")), (1999, "jpy", Decimal("1999")),
    (1999, "krw", Decimal("1999")), (1999, "bhd", Decimal("1.999")),
    (1, "kwd", Decimal("0.001")), (-250, "EUR", Decimal("-2.50")),
])
def test_amounts_stay_integers_and_take_the_exponent_only_at_the_edge(amount, currency, major):
    assert money.to_major(amount, currency) == major
    assert money.to_minor(major, currency) == amount


def test_an_amount_finer_than_the_currency_is_refused_not_rounded():
    with pytest.raises(ValueError, match="more decimals"):
        money.to_minor(Decimal("0.5"), "jpy")
    with pytest.raises(ValueError, match="more decimals"):
        money.to_minor(Decimal("1.2345"), "bhd")
    with pytest.raises(TypeError):
        money.to_major(19.99, "usd")  # type: ignore[arg-type]


def test_keys_are_secret_or_restricted_and_their_mode_sets_the_read_limit():
    assert key_mode("sk_live_abc") == "live" and key_mode("rk_test_abc") == "test"
    assert READ_LIMITS == {"live": 100, "test": 25}
    with pytest.raises(ValueError, match="publishable"):
        StripeSettings(api_key="pk_live_abc")


def test_a_day_window_is_read_page_by_page_each_object_once(stripe, engine):
    server, store = stripe
    conn = connect(_conf(server), engine)
    start, end = _day(DAY)
    with conn.client.http:
        pages = list(conn.client.window_pages("charges", start, end))
    ids = [s.instance.id for page in pages for s in page if s.instance]
    expected = {c["id"] for c in store.ledger.objects["charges"].values()
                if midnight(DAY) <= c["created"] < midnight(DAY) + 86400}
    assert len(pages) > 1 and all(len(p) <= 100 for p in pages)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert all(s.error is None for page in pages for s in page)
    assert conn.client.served_versions == {"2026-10-28": len(pages)}
    assert conn.budgets[0].reservations == len(pages)  # the account's shared read budget


def test_a_payouts_transactions_sum_to_its_amount(stripe):
    server, store = stripe
    payout = next(p for p in store.ledger.objects["payouts"].values() if p["status"] == "paid")
    conn = connect(_conf(server), None)
    with conn.client.http:
        items = [s.instance for s in conn.client.payout_transactions(payout["id"])]
    assert {i.type for i in items} >= {"charge", "payout"}
    assert sum(i.net for i in items if i and i.type != "payout") == payout["amount"]
    own = [i for i in items if i and i.type == "payout"]
    assert [o.net for o in own] == [-payout["amount"]]


def test_events_come_a_page_at_a_time_oldest_page_first_each_once(stripe):
    """The change feed's walk: every event of the window once, in pages of at most 100,
    the oldest page first and each page oldest first (so a page can be applied and the
    cursor moved past it before the next is asked for)."""
    server, store = stripe
    conn = connect(_conf(server), None)
    since = datetime.combine(DAY, datetime.min.time(), UTC)
    until = since + timedelta(days=2)
    with conn.client.http:
        pages = [[e.instance for e in page] for page in conn.client.event_pages(since, until)]
        assert conn.client.any_event_since(since)
        assert not conn.client.any_event_since(datetime.fromtimestamp(
            max(e["created"] for e in store.ledger.events) + 1, UTC))
    made = [e for page in pages for e in page if e]
    expected = [e for e in store.ledger.events
                if since.timestamp() <= e["created"] < until.timestamp()]
    assert len(pages) > 2 and all(len(page) <= 100 for page in pages)
    assert sorted(e.id for e in made) == sorted(e["id"] for e in expected)
    assert [e.created for e in made] == sorted(e.created for e in made)
    assert all(e.data.object["id"] for e in made)  # each carries its object


def test_a_rejected_request_keeps_stripes_message_and_request_id(stripe):
    server, _ = stripe
    conn = connect(_conf(server, key="sk_test_wrong"), None)
    with conn.client.http, pytest.raises(PermanentVendorError) as caught:
        next(conn.client.window_pages("charges", *_day(DAY)))
    assert caught.value.status == 401 and caught.value.request_id.startswith("req_")
    assert "Invalid API Key" in caught.value.body and "sk_test_wrong" not in caught.value.body
    conn = connect(_conf(server, version="2019-01-01"), None)
    with conn.client.http, pytest.raises(PermanentVendorError) as caught:
        next(conn.client.window_pages("charges", *_day(DAY)))
    assert "invalid_request_error/api_version_invalid" in str(caught.value)


def test_stripe_should_retry_is_honoured(stripe):
    server, store = stripe
    store.faults.update({"error_rate_5xx": 1.0})
    try:
        conn = connect(_conf(server), None, max_attempts=3, sleep=lambda s: None)
        with conn.client.http, pytest.raises(RetriesExhaustedError) as caught:
            next(conn.client.window_pages("payouts", *_day(DAY)))
        assert conn.client.http.metrics.retries == 3 and caught.value.request_id
    finally:
        store.faults.reset()
    # Stripe says "do not retry" on a 503: one attempt, a permanent failure.
    response = httpx.Response(503, headers={"Stripe-Should-Retry": "false", "Request-Id": "r1"},
                              json={"error": {"type": "api_error", "message": "no"}})
    http = connect(_conf(server), None).client.http
    error = http._classify(response, "charges.list")
    assert isinstance(error, PermanentVendorError) and error.request_id == "r1"


def test_an_object_that_breaks_the_contract_is_screened_out_not_the_page(stripe):
    server, store = stripe
    charge = next(iter(store.ledger.objects["charges"].values()))
    day = datetime.fromtimestamp(charge["created"], UTC).date()
    saved = charge["amount"]
    charge["amount"] = "19.99"  # a string where Stripe states an integer
    try:
        conn = connect(_conf(server), None)
        with conn.client.http:
            screened = [s for p in conn.client.window_pages("charges", *_day(day)) for s in p]
    finally:
        charge["amount"] = saved
    bad = [s for s in screened if s.error]
    assert [s.payload["id"] for s in bad] == [charge["id"]] and "Charge.amount" in bad[0].error
    assert len(screened) > 1


def test_signatures_verify_any_matching_v1_within_tolerance():
    body = json.dumps({"id": "evt_1", "type": "charge.refunded"}).encode()
    now = int(time.time())
    header = webhooks.signature_header(body, ["whsec_old", "whsec_new"], now)
    assert webhooks.verify(body, header, ["whsec_new"], now=now) == now
    assert webhooks.verify(body, f"v0=abc,{header}", ["whsec_old"], now=now) == now
    # The same hex digest Stripe's libraries compute over "{t}.{body}" with the secret as text.
    import hashlib
    import hmac
    assert webhooks.sign(body, "whsec_x", 1) == hmac.new(
        b"whsec_x", b"1." + body, hashlib.sha256).hexdigest()
    with pytest.raises(webhooks.SignatureError, match="no v1 signature matches"):
        webhooks.verify(body + b" ", header, ["whsec_new"], now=now)
    with pytest.raises(webhooks.SignatureError, match="tolerance"):
        webhooks.verify(body, header, ["whsec_new"], now=now + 301)
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(body, None, ["whsec_new"])
