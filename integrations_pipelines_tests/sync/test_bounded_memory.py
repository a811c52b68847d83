"""Backfills in bounded memory: a window is extracted into the raw store a page at a time,
synced from it a chunk at a time (a few writes in flight at once), and read back from
QuickBooks a page at a time, so a run holds one page or chunk however many days it
covers. Observed from outside the code under test: what the store has committed when the
next Shopify page is requested, and how many invoices QuickBooks holds when the sync takes
its next order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa

from integrations_pipelines.mapping.shopify_to_quickbooks_entry import flagship
from integrations_pipelines.state import raw
from integrations_pipelines.sync.concurrent_sync import ConcurrentRecordSync
from integrations_pipelines.sync.extraction import StoredOrders, store_orders
from integrations_pipelines.sync.invoice_read_back import read_back_window
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.quickbooks.client import connect
from integrations_pipelines.vendors.quickbooks.records import invoice_record, invoices_kind
from integrations_pipelines.vendors.shopify.client import ShopifyClient, make_http_client
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, order_record
from integrations_pipelines_tests.builders import clean_orders
from integrations_pipelines_tests.support import sandbox_quickbooks_settings

DAY = date(2026, 11, 3)
NEXT = DAY + timedelta(days=1)
START = datetime.combine(DAY, datetime.min.time(), UTC)
INTEGRATION = flagship("shopify_to_quickbooks")  # UTC days
T = TypeVar("T")


def _committed(engine: sa.Engine) -> tuple[int, set[str]]:
    """What another connection sees of the day: rows, and the runs that wrote them."""
    with engine.connect() as conn:
        rows = raw.window(conn, ORDERS, DAY, NEXT)
    return len(rows), {r.run_id or "" for r in rows}


def _extract(engine: sa.Engine, client: ShopifyClient, run_id: str,
             seen: list[int]) -> int:
    """The day's extraction, noting what the store has committed each time it asks for
    the next page (before that page is requested from the sandbox)."""

    def watched(pages: Iterable[list[Any]]) -> Iterator[list[Any]]:
        for page in pages:  # taking the next page here sends its request
            yield page
            seen.append(_committed(engine)[0])

    outcome = store_orders(engine, INTEGRATION, DAY, NEXT, watched(client.iter_order_pages(
        created_at_min=START, created_at_max=START + timedelta(days=1), limit=5)), run_id)
    return outcome.stored


def test_the_extraction_commits_each_page_before_it_requests_the_next(
        engine: sa.Engine, shop_sandbox: Any) -> None:
    orders = clean_orders(3, DAY, 60, count=13)
    vanished, kept = orders[0], orders[1:]  # 12 orders: pages of 5, 5 and 2
    with engine.begin() as conn:  # an order an earlier run stored that Shopify no longer has
        raw.replace_window(conn, ORDERS, DAY, NEXT, [order_record(
            Order.model_validate(vanished), vanished, DAY)], "earlier")
    server, shop = shop_sandbox(kept)
    client = ShopifyClient(make_http_client(server.url, shop.access_token),
                           contracts=ContractGuard(engine))
    with client.http:
        seen: list[int] = []
        assert _extract(engine, client, "first", seen) == 12
        # Page 1's orders were committed before page 2 was asked for, and so on; the
        # vanished order stays until the whole day was read, then goes.
        assert seen == [1 + 5, 1 + 10, 1 + 12]
        assert _committed(engine) == (12, {"first"})

        # A replay of the unchanged day, page by page, writes no row.
        seen = []
        assert _extract(engine, client, "replay", seen) == 12
        assert seen == [12, 12, 12]
        assert _committed(engine) == (12, {"first"})


def test_a_key_given_again_on_a_later_page_keeps_its_newest_version(engine: sa.Engine) -> None:
    [order] = clean_orders(4, DAY, 1)
    older = {**order, "updated_at": "2026-11-03T01:00:00+00:00", "note": "older"}
    newer = {**order, "updated_at": "2026-11-03T02:00:00+00:00", "note": "newer"}
    with engine.connect() as conn:
        pages = raw.WindowReplacement(conn, ORDERS, DAY, NEXT, "pages")
        for payload in (newer, older):  # as when an order shifts pages mid-read
            pages.add([order_record(Order.model_validate(payload), payload, DAY)])
            conn.commit()
        done = pages.finish()
        conn.commit()
        [stored] = raw.window(conn, ORDERS, DAY, NEXT)
    assert (done.written, done.deleted) == (1, 0)
    assert stored.payload["note"] == "newer"


def test_the_sync_takes_the_next_chunk_only_after_writing_this_one(
        engine: sa.Engine, qbo_sandbox: Any) -> None:
    server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    orders = clean_orders(5, DAY, 60, count=12)
    with engine.begin() as conn:
        raw.replace_window(conn, ORDERS, DAY, NEXT, [
            order_record(Order.model_validate(o), o, DAY) for o in orders], "extract")
    qbo = connect(sandbox_quickbooks_settings(server, books), engine,
                  contracts=ContractGuard(engine))
    sync = InvoiceSync(engine, qbo, INTEGRATION)
    sync.chunk_size = 5
    invoices_when_taken: list[int] = []

    def watched(records: Iterable[T]) -> Iterator[T]:
        for record in records:
            invoices_when_taken.append(len(books.all_invoices()))
            yield record

    stored = StoredOrders(engine, DAY, NEXT, chunk=4)  # the store's chunks need not match
    with qbo.http:
        outcome = sync.run(watched(stored))
        # Orders 1-5 were taken before any write, 6-10 after the first chunk's five
        # invoices, 11-12 after ten.
        assert invoices_when_taken == [0] * 5 + [5] * 5 + [10] * 2
        assert (stored.read, outcome.created) == (12, 12)
        again = sync.run(StoredOrders(engine, DAY, NEXT))
    assert (again.unchanged, again.created) == (12, 0)


def test_the_read_back_stores_the_window_a_page_at_a_time(
        engine: sa.Engine, qbo_sandbox: Any) -> None:
    """The window's invoices come into the store page by page (each committed), with the
    figures summed as they go; one QuickBooks no longer has is deleted at the end, and a
    second read of the unchanged window writes nothing."""
    server, books = qbo_sandbox
    made = [books.insert_invoice_raw({
        "DocNumber": f"S{n}", "TxnDate": DAY.isoformat(), "TotalAmt": 10.1 * n,
        "CurrencyRef": {"value": "USD"}, "CustomerRef": {"value": "1"}, "Line": [],
        "PrivateNote": "Voided" if n == 3 else ""}) for n in range(1, 6)]
    books.insert_invoice_raw({"DocNumber": "S9", "TxnDate": NEXT.isoformat(), "TotalAmt": 1,
                              "CurrencyRef": {"value": "USD"}, "CustomerRef": {"value": "1"},
                              "Line": []})
    kind = invoices_kind(books.realm_id)
    with engine.begin() as conn:  # an invoice deleted in QuickBooks since the last read
        raw.replace_window(conn, kind, DAY, NEXT, [invoice_record(
            {**made[0], "Id": "999", "DocNumber": "S999"})], "earlier")
    qbo = connect(sandbox_quickbooks_settings(server, books), engine,
                  contracts=ContractGuard(engine))
    with qbo.http:
        read = read_back_window(engine, qbo, DAY, NEXT, "first", page=2)
        again = read_back_window(engine, qbo, DAY, NEXT, "again", page=2)
    assert (read.read, read.voided, read.written, read.deleted) == (5, 1, 5, 1)
    assert read.total_amount == sum(Decimal(str(10.1 * n)) for n in range(1, 6))
    assert (again.read, again.written, again.deleted) == (5, 0, 0)
    with engine.connect() as conn:
        stored = raw.window(conn, kind, DAY, NEXT)
    assert [r.external_key for r in stored] == [f"S{n}" for n in range(1, 6)]
    assert {r.run_id for r in stored} == {"first"}


def test_concurrent_writes_give_one_invoice_per_order_and_one_customer(
        engine: sa.Engine, qbo_sandbox: Any) -> None:
    """Orders of one new customer written four at a time: the customer is created once
    (its create's requestid, or QuickBooks' duplicate-name refusal, brings the others to
    it), every order gets exactly one invoice, and a re-run writes nothing."""
    server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    orders = clean_orders(5, DAY, 60, count=12)
    same = orders[0]["customer"]
    orders = [{**o, "customer": same, "email": orders[0].get("email")} for o in orders]
    with engine.begin() as conn:
        raw.replace_window(conn, ORDERS, DAY, NEXT, [
            order_record(Order.model_validate(o), o, DAY) for o in orders], "extract")
    qbo = connect(sandbox_quickbooks_settings(server, books), engine,
                  contracts=ContractGuard(engine))
    sync = InvoiceSync(engine, qbo, INTEGRATION)
    assert isinstance(sync, ConcurrentRecordSync) and sync.concurrency > 1
    with qbo.http:
        outcome = sync.run(StoredOrders(engine, DAY, NEXT))
        again = sync.run(StoredOrders(engine, DAY, NEXT))
    invoices = books.all_invoices()
    assert outcome.created == 12 and outcome.dead_lettered == 0
    assert len(invoices) == 12 and len({i["DocNumber"] for i in invoices}) == 12
    assert len({i["CustomerRef"]["value"] for i in invoices}) == 1
    assert len(books.all_customers()) == 1
    assert (again.unchanged, again.created) == (12, 0)
