"""One writer per order into Xero, by construction: two syncs of the same window at once
(the nightly run and a backfill) claim each order before any batch is sent, so only one of
them ever sends an order's invoice: Xero never has to refuse a duplicate number, and each
order's invoice and payment exist once."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import sqlalchemy as sa

from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.state import raw
from integrations_pipelines.state.tables import sync_ledger
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.shopify_to_xero import order_sync
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, business_date, order_record
from integrations_pipelines.vendors.xero.client import connect
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines_tests.defs.test_shopify_to_xero import ENTRY, FAST

DAY = date(2026, 11, 3)


def test_two_syncs_of_one_window_book_each_order_once(engine):
    payloads = generate_shop(seed=6, start=DAY, days=1, orders_per_day=30,
                             shop_currency="GBP", taxes_included=True)
    with engine.begin() as conn:
        raw.replace_window(conn, ORDERS, DAY, DAY + timedelta(days=1), [
            order_record(o, p, business_date(o, "UTC"))
            for p in payloads for o in [Order.model_validate(p)]], None)
    server, store = start_xero(per_minute=FAST)
    try:
        settings = XeroSettings(server.url, f"{server.url}/connect/token",
                                store.tokens.client_id, store.tokens.client_secret,
                                store.books.tenant_id,
                                bootstrap_refresh_token=store.tokens.current_refresh_token)
        start = threading.Barrier(2)
        outcomes, errors = [], []

        def sync() -> None:
            client = connect(settings, engine, per_minute=FAST)
            with client.http:
                start.wait()
                try:
                    outcomes.append(order_sync(engine, client, ENTRY).run(
                        StoredOrders(engine, DAY, DAY + timedelta(days=1))))
                except Exception as exc:  # reported below with the outcomes
                    errors.append(exc)

        threads = [threading.Thread(target=sync) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        invoices = store.books.query_invoices(None, None, None)
        numbers = [i["InvoiceNumber"] for i in invoices if i["Status"] != "DELETED"]
        assert len(numbers) == len(set(numbers))  # no order booked twice
        booked = sum(o.created + o.voided for o in outcomes)
        assert booked == len(numbers)  # each invoice counted by one of the two runs
        with engine.connect() as conn:
            ledger = conn.execute(sa.select(sync_ledger.c.destination_id).where(
                sync_ledger.c.integration == ENTRY.name)).scalars().all()
        # Every invoice is the ledger's (test orders are settled without one).
        assert sorted(d for d in ledger if d) == sorted(i["InvoiceID"] for i in invoices)
        for invoice in invoices:  # one payment at most, never two for one order
            assert len(invoice["Payments"]) <= 1, invoice["InvoiceNumber"]
        # Only one writer sent the new invoices (30 orders: one batch); the other found them
        # written when its claims were granted. Nothing relied on Xero refusing a number.
        assert store.books.numbers_refused_as_duplicates == 0
        assert store.stats["invoices.put"] == 1
        assert sorted(o.created + o.voided for o in outcomes)[0] == 0
    finally:
        server.stop()
