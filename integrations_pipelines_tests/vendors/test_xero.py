"""The Xero client against the Xero sandbox over HTTP, with its tokens in PostgreSQL.

Batches of invoices with `summarizeErrors=false` (one refused, the others saved), the
`Idempotency-Key` replay, `xero-tenant-id` on every call, rotation and the 60-day idle
lifetime of the refresh token, the limits and their 429s, MS-JSON dates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.tokens import token_alert
from integrations_pipelines.sandbox.xero_app import XeroStore, start_xero
from integrations_pipelines.vendors.errors import (
    CredentialsRevokedError,
    PermanentVendorError,
    RetriesExhaustedError,
)
from integrations_pipelines.vendors.pacing import RateLimitExhaustedError
from integrations_pipelines.vendors.xero.client import XeroClient, connect
from integrations_pipelines.vendors.xero.dates import (
    MsJsonDateError,
    ms_json,
    parse_ms_json,
    parse_xero_date,
)
from integrations_pipelines.vendors.xero.errors import XeroValidationError
from integrations_pipelines.vendors.xero.limits import PROBLEM_HEADER, RateLimitProblem
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines.vendors.xero.webhooks import SIGNATURE_HEADER, verify
from integrations_pipelines.vendors.xero.writer import idempotency_key

FAST = 6000  # calls a minute the tests' sandbox allows (Xero: 60), so pacing stays short


@pytest.fixture
def xero():
    server, store = start_xero(per_minute=FAST)
    yield server, store
    server.stop()


def client_for(server, store, engine, tenant: str | None = None, **kw) -> XeroClient:
    settings = XeroSettings(server.url, f"{server.url}/connect/token",
                            store.tokens.client_id, store.tokens.client_secret,
                            tenant or store.books.tenant_id,
                            bootstrap_refresh_token=store.tokens.current_refresh_token)
    return connect(settings, engine, per_minute=FAST, sleep=lambda s: None, **kw)


def invoice(number: str, description: str = "Mug", amount: float = 10.0) -> dict:
    return {"Type": "ACCREC", "Contact": {"Name": "Ada [shopify:1]"}, "Date": "2026-11-03",
            "InvoiceNumber": number, "Reference": f"shopify:order:{number}",
            "CurrencyCode": "GBP", "Status": "AUTHORISED", "LineAmountTypes": "Inclusive",
            "LineItems": [{"Description": description, "Quantity": 1, "UnitAmount": amount,
                           "AccountCode": "200", "TaxType": "OUTPUT2"}]}


def test_ms_json_dates_are_parsed():
    assert parse_ms_json("/Date(1539993600000+0000)/") == datetime(2018, 10, 20, tzinfo=UTC)
    shown = parse_ms_json("/Date(1539993600000+1300)/")
    assert shown.utcoffset() == timedelta(hours=13)
    assert shown == datetime(2018, 10, 20, tzinfo=UTC)  # the same instant
    assert parse_ms_json("/Date(1539993600000)/") == datetime(2018, 10, 20, tzinfo=UTC)
    assert parse_xero_date("/Date(1762128000000+0000)/") == date(2025, 11, 3)
    assert parse_xero_date("2026-11-03T00:00:00") == date(2026, 11, 3)
    moment = datetime(2026, 11, 3, 12, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_ms_json(ms_json(moment)) == moment
    with pytest.raises(MsJsonDateError):
        parse_ms_json("2018-10-20")


def test_a_batch_saves_the_valid_invoices_and_names_the_refused_one(xero, engine):
    server, store = xero
    client = client_for(server, store, engine)
    with client.http:
        answers = client.put_invoices(
            [invoice("S1"), invoice("S2", "Unicorn mug \U0001F984"), invoice("S3")],
            idempotency_key("batch", "1"))
        assert [a["HasErrors"] for a in answers] == [False, True, False]
        assert "not supported" in answers[1]["ValidationErrors"][0]["Message"]
        saved = client.invoices_by_numbers(["S1", "S2", "S3"])
        assert sorted(i["InvoiceNumber"] for i in saved) == ["S1", "S3"]
        # Xero's own figures: 20% VAT inside a tax-inclusive 10.00.
        s1 = next(i for i in saved if i["InvoiceNumber"] == "S1")
        assert (s1["Total"], s1["TotalTax"], s1["AmountDue"], s1["Status"]) == (
            10.0, 1.67, 10.0, "AUTHORISED")
        # The same key answers the first answer: no second S1, no new refusal.
        again = client.put_invoices(
            [invoice("S1"), invoice("S2", "Unicorn mug \U0001F984"), invoice("S3")],
            idempotency_key("batch", "1"))
        assert [a.get("InvoiceID") for a in again] == [a.get("InvoiceID") for a in answers]
        assert store.idempotent_replays == 1
        assert len(store.books.invoices) == 2
        # Without the key, a second S1 is refused by Xero's unique numbers.
        [dup] = client.put_invoices([invoice("S1")], idempotency_key("batch", "2"))
        assert dup["HasErrors"] and "must be unique" in dup["ValidationErrors"][0]["Message"]
        # A single refused write (no summarizeErrors) is a ValidationException.
        with pytest.raises(XeroValidationError, match="TaxType code 'OUTPUT9'"):
            bad = invoice("S9")
            bad["LineItems"][0]["TaxType"] = "OUTPUT9"
            client.put_credit_note({**bad, "Type": "ACCRECCREDIT"}, idempotency_key("cn", "9"))


def test_every_call_names_the_tenant(xero, engine):
    server, store = xero
    client = client_for(server, store, engine, tenant="another-organisation")
    with client.http, pytest.raises(PermanentVendorError) as refused:
        client.invoices_by_numbers(["S1"])
    assert refused.value.status == 403


def test_tokens_rotate_persist_and_expire_after_sixty_idle_days(xero, engine):
    server, store = xero
    client = client_for(server, store, engine)
    first_refresh = store.tokens.current_refresh_token
    with client.http:
        client.invoices_by_numbers(["S1"])
        health = client.tokens.health()
        assert store.tokens.current_refresh_token != first_refresh  # rotated on use
        assert health.refresh_expires_at is not None
        left = health.refresh_expires_at - datetime.now(UTC)
        assert timedelta(days=59) < left <= timedelta(days=60)
        # Token health warns two weeks before an idle Xero connection dies, not after.
        assert token_alert(health, datetime.now(UTC) + timedelta(days=40)) is None
        warned = token_alert(health, datetime.now(UTC) + timedelta(days=47))
        assert warned is not None and warned.kind is AlertKind.TOKEN_EXPIRING
        store.tokens.expire_access()  # an access token lives 30 minutes
        client.invoices_by_numbers(["S1"])
        assert client.tokens.refreshes == 2 and store.stats["unauthorized"] == 1
        store.tokens.revoke_all()  # the user disconnected the app
        with pytest.raises(CredentialsRevokedError, match="tokens set xero:"):
            client.invoices_by_numbers(["S1"])


def test_a_spent_minute_is_waited_out_and_a_spent_day_fails_at_once(engine):
    server, store = start_xero(per_minute=2, per_day=5)
    waits: list[float] = []
    try:
        settings = XeroSettings(server.url, f"{server.url}/connect/token",
                                store.tokens.client_id, store.tokens.client_secret,
                                store.books.tenant_id,
                                bootstrap_refresh_token=store.tokens.current_refresh_token)
        client = connect(settings, engine, per_minute=FAST, sleep=waits.append)
        # The sleeps are recorded, not slept: the sandbox's minute never passes.
        with client.http:
            for _ in range(2):
                client.invoices_by_numbers(["S1"])
            assert waits == [pytest.approx(60.0, abs=1.0)]  # X-MinLimit-Remaining: 0
            with pytest.raises(RetriesExhaustedError):
                client.invoices_by_numbers(["S1"])
            assert store.stats["429:minute"] >= 2 and client.problems.seen["minute"] >= 2
            assert min(waits) >= 1.0  # Retry-After honoured, never a tight loop
            store.per_minute = 100
            store._day[store.books.tenant_id] = 5
            with pytest.raises(RateLimitExhaustedError, match="day limit is spent"):
                client.invoices_by_numbers(["S1"])
            assert store.stats["429:day"] == 1  # not retried
    finally:
        server.stop()


def test_credit_notes_payments_and_voids_follow_xeros_rules(xero, engine):
    server, store = xero
    client = client_for(server, store, engine)
    with client.http:
        [saved] = client.put_invoices([invoice("S5", amount=120.0)], idempotency_key("s5"))
        invoice_id = saved["InvoiceID"]
        note = client.put_credit_note(
            {**invoice("CN-S5", amount=20.0), "Type": "ACCRECCREDIT",
             "CreditNoteNumber": "CN-S5"}, idempotency_key("cn-s5"))
        client.allocate(note["CreditNoteID"], invoice_id, "20.00", date(2026, 11, 4),
                        idempotency_key("alloc-s5"))
        after = client.invoice(invoice_id)
        assert (after["AmountCredited"], after["AmountDue"], after["Status"]) == (
            20.0, 100.0, "AUTHORISED")
        with pytest.raises(XeroValidationError, match="exceeds the amount outstanding"):
            client.put_payment({"Invoice": {"InvoiceID": invoice_id},
                                "Account": {"Code": "090"}, "Amount": 100.01,
                                "Date": "2026-11-04"}, idempotency_key("pay-too-much"))
        payment = client.put_payment({"Invoice": {"InvoiceID": invoice_id},
                                      "Account": {"Code": "090"}, "Amount": 100.0,
                                      "Date": "2026-11-04"}, idempotency_key("pay-s5"))
        paid = client.invoice(invoice_id)
        assert (paid["AmountPaid"], paid["AmountDue"], paid["Status"]) == (100.0, 0.0, "PAID")
        second = client.put_credit_note(
            {**invoice("CN2-S5", amount=5.0), "Type": "ACCRECCREDIT",
             "CreditNoteNumber": "CN2-S5"}, idempotency_key("cn2-s5"))
        with pytest.raises(XeroValidationError, match="already been paid off"):
            client.allocate(second["CreditNoteID"], invoice_id, "5.00", date(2026, 11, 4),
                            idempotency_key("alloc2-s5"))
        with pytest.raises(XeroValidationError, match="cannot be voided"):
            client.post_invoice(invoice_id, {"Status": "VOIDED"}, idempotency_key("void-s5"))
        client.delete_payment(payment["PaymentID"], idempotency_key("unpay-s5"))
        assert client.invoice(invoice_id)["Status"] == "AUTHORISED"
        with pytest.raises(XeroValidationError, match="DRAFT or SUBMITTED"):
            client.post_invoice(invoice_id, {"Status": "DELETED"}, idempotency_key("del-s5"))


def test_a_batch_whose_answer_is_lost_is_retried_into_xeros_first_answer(engine):
    """The write reached Xero, its answer did not: the retry carries the same
    Idempotency-Key and Xero answers the first answer, so no invoice is created twice."""
    server, store = start_xero(per_minute=FAST, faults={"drop_response_after_write": True})
    try:
        client = client_for(server, store, engine)
        with client.http:
            answers = client.put_invoices([invoice("S7"), invoice("S8")],
                                          idempotency_key("batch", "lost"))
        assert [a["InvoiceNumber"] for a in answers] == ["S7", "S8"]
        assert len(store.books.invoices) == 2 and store.idempotent_replays == 1
        assert store.stats["invoices.put"] == 2  # the lost one and its retry
    finally:
        server.stop()


def test_webhook_deliveries_are_signed_and_the_intent_check_tells_them_apart(xero, engine):
    server, store = xero
    client = client_for(server, store, engine)
    with client.http:
        [saved] = client.put_invoices([invoice("S10")], idempotency_key("s10"))
    body, headers = store.webhook_delivery()
    events = json.loads(body)["events"]
    assert [(e["resourceId"], e["eventCategory"], e["tenantId"]) for e in events] == [
        (saved["InvoiceID"], "INVOICE", store.books.tenant_id)]
    key = store.webhook_key
    assert verify(body, headers[SIGNATURE_HEADER], [key])
    assert verify(body, headers[SIGNATURE_HEADER], ["old-key", key])  # during a rotation
    assert not verify(body + b" ", headers[SIGNATURE_HEADER], [key])  # tampered
    assert not verify(body, None, [key])
    # Intent to receive: no events, one delivery signed right and one signed wrong.
    good, good_headers = store.webhook_delivery(intent=True)
    bad, bad_headers = store.webhook_delivery(intent=True, signed_by="not-the-key")
    assert json.loads(good)["events"] == []
    assert verify(good, good_headers[SIGNATURE_HEADER], [key])
    assert not verify(bad, bad_headers[SIGNATURE_HEADER], [key])
    # The signature is base64 HMAC-SHA256 of the raw body with the key.
    expected = base64.b64encode(hmac.new(key.encode(), good, hashlib.sha256).digest()).decode()
    assert good_headers[SIGNATURE_HEADER] == expected


def test_the_sandbox_keeps_its_books_and_rotated_tokens_across_restarts(xero, engine, tmp_path):
    server, store = xero
    client = client_for(server, store, engine)
    with client.http:
        client.put_invoices([invoice("S11")], idempotency_key("s11"))
    rotated = store.tokens.current_refresh_token
    store.save(tmp_path / "xero.json")
    again = XeroStore.load(tmp_path / "xero.json", per_minute=FAST)
    assert again.tokens.current_refresh_token == rotated
    assert [i["InvoiceNumber"] for i in again.books.query_invoices(None, None, None)] == ["S11"]
    status, grant = again.tokens.refresh(
        "Basic " + base64.b64encode(f"{again.tokens.client_id}:"
                                    f"{again.tokens.client_secret}".encode()).decode(),
        {"grant_type": "refresh_token", "refresh_token": rotated})
    assert status == 200 and grant["refresh_token"] != rotated


@pytest.mark.parametrize(("problem", "spent"), [
    ("day", True), ("Daily", True), ("minute", False), ("Minute", False),
    ("concurrent", False), ("appminute", False)])
def test_a_429_names_its_limit_and_only_a_spent_day_stops_the_run(problem, spent):
    reader = RateLimitProblem()
    answer = httpx.Response(429, headers={PROBLEM_HEADER: problem, "Retry-After": "30"},
                            text="oauth_problem=rate%20limit%20exceeded")
    if spent:
        with pytest.raises(RateLimitExhaustedError, match="limit is spent"):
            reader.observe(answer)
    else:
        reader.observe(answer)
    assert reader.seen == {problem.lower(): 1}


def test_new_invoices_go_fifty_to_a_request_and_never_over_xeros_size_limit(xero, engine):
    """A chunk of 120 new orders is three requests (50, 50, 20); orders whose descriptions
    make 50 of them heavier than Xero's 3.5 MB a request are split further."""
    from integrations_pipelines.mapping.shopify_to_xero import map_order
    from integrations_pipelines.sandbox.shopify_orders import LineSpec, make_order
    from integrations_pipelines.vendors.shopify.models import Order
    from integrations_pipelines.vendors.xero.writer import DocumentWriter
    from integrations_pipelines_tests.defs.test_shopify_to_xero import ENTRY

    def drafts(count: int, title: str, first: int, lines: int = 2) -> list:
        return [map_order(Order.model_validate(make_order(
            order_id=9_000 + n, order_number=n, created_at=datetime(2026, 11, 3, tzinfo=UTC),
            lines=[LineSpec(title, Decimal("5.00"))] * lines, shop_currency="GBP",
            taxes_included=True, tax_rate="0.2")), ENTRY) for n in range(first, first + count)]

    server, store = xero
    writer = DocumentWriter(client_for(server, store, engine), owner_marker="shopify:order:")
    with writer.xero.http:
        writer.prepare_chunk([(d, None, [], 0) for d in drafts(120, "Mug", 1)])
        assert store.stats["invoices.put"] == 3 and len(store.books.invoices) == 120
        # About 4 kB a line, 80 kB an invoice: 50 of them would be 4 MB in one request.
        heavy = drafts(50, "Long " * 799, 1000, lines=20)
        writer.prepare_chunk([(d, None, [], 0) for d in heavy])
        assert store.stats["invoices.put"] == 5 and len(store.books.invoices) == 170
