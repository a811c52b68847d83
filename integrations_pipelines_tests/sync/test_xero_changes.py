"""Changes after an order is booked in Xero, through the same write path: a partial refund
weeks later on a paid invoice (our payment taken back, the credit note allocated, what the
order still holds paid again) and then the cancellation (the payment deleted, the invoice
voided, its credit note taken back and voided); after each change the judge, reading only
what Xero computes, agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from integrations_pipelines.reconciliation.shopify_to_xero import reconcile
from integrations_pipelines.sandbox.shopify_orders import LineSpec, apply_cancel, apply_refund
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.state import raw
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.shopify_to_xero import order_sync, read_back
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, business_date, order_record
from integrations_pipelines.vendors.xero.client import connect
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines_tests.defs.test_shopify_to_xero import ENTRY, FAST
from integrations_pipelines_tests.defs.test_xero_seeds_scenario import AT, DAY, uk_order

END = DAY + timedelta(days=1)


def store(engine, payload: dict) -> None:
    order = Order.model_validate(payload)
    with engine.begin() as conn:
        raw.upsert_newer(conn, ORDERS, [order_record(order, payload, business_date(
            order, "UTC"))], None)


def test_a_refund_then_a_cancellation_reach_the_booked_invoice(engine):
    payload = uk_order(1, [LineSpec("Mug", Decimal("10.00"), 3), LineSpec("Jam", Decimal("6.00"))])
    store(engine, payload)
    server, xero = start_xero(per_minute=FAST)
    try:
        settings = XeroSettings(server.url, f"{server.url}/connect/token",
                                xero.tokens.client_id, xero.tokens.client_secret,
                                xero.books.tenant_id,
                                bootstrap_refresh_token=xero.tokens.current_refresh_token)
        client = connect(settings, engine, per_minute=FAST)

        def sync_and_judge() -> dict:
            outcome = order_sync(engine, client, ENTRY).run(StoredOrders(engine, DAY, END))
            assert outcome.dead_lettered == 0, outcome.dead_letter_reasons
            invoices = read_back(engine, client, DAY, END, None).invoices
            with engine.connect() as conn:
                report = reconcile(conn, ENTRY, DAY, END, client.tenant_id)
            assert report.discrepant_count == 0, report.counts
            [invoice] = invoices
            return invoice

        with client.http:
            booked = sync_and_judge()
            assert (booked["Status"], booked["AmountPaid"]) == ("PAID", 36.0)

            # Weeks later one mug comes back: a partial refund with its VAT.
            apply_refund(payload, at=AT + timedelta(days=20), refund_id=51, transaction_id=52,
                         lines=[(payload["line_items"][0]["id"], 1)])
            store(engine, payload)
            refunded = sync_and_judge()
            assert refunded["InvoiceID"] == booked["InvoiceID"]
            assert (refunded["AmountCredited"], refunded["AmountPaid"], refunded["Status"]) == (
                10.0, 26.0, "PAID")
            live = [p for p in xero.books.payments.values() if p["Status"] == "AUTHORISED"]
            assert [p["Amount"] for p in live] == [26.0]  # the first payment was taken back

            # Then the merchant cancels the order.
            apply_cancel(payload, at=datetime(2026, 12, 1, tzinfo=UTC), refund_id=53,
                         transaction_id=54)
            store(engine, payload)
            cancelled = sync_and_judge()
            assert (cancelled["Status"], cancelled["AmountCredited"], cancelled["AmountDue"]) == (
                "VOIDED", 0.0, 0.0)
            # Xero voids no invoice with payments or credit allocated: ours were taken back.
            assert not [p for p in xero.books.payments.values() if p["Status"] == "AUTHORISED"]
            assert [n["Status"] for n in xero.books.credit_notes.values()] == ["VOIDED"]
            # Every write of the flow (invoice, payments, credit note, allocation and its
            # removal, voids, history) carried an Idempotency-Key.
            assert xero.stats["allocations.delete"] == 1
            assert "writes_without_idempotency_key" not in xero.stats
    finally:
        server.stop()
