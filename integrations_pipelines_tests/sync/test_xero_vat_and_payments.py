"""What Xero states about money after the sale, read back and judged: a partially paid
order is a partial payment into the clearing account (the invoice stays AUTHORISED with
Shopify's outstanding amount due), and the day's VAT per rate is net of refunds on both
sides (Shopify's refunded tax against Xero's credit notes, read back with their allocations
and statuses, each line at the rate Xero states for its tax type)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from integrations_pipelines.reconciliation.shopify_to_xero import reconcile, vat_by_rate
from integrations_pipelines.sandbox.shopify_orders import LineSpec, apply_refund
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.state import raw
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.shopify_to_xero import order_sync, read_back
from integrations_pipelines.vendors.xero.client import connect
from integrations_pipelines.vendors.xero.records import credit_notes_kind
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines_tests.defs.test_shopify_to_xero import ENTRY, FAST
from integrations_pipelines_tests.defs.test_xero_seeds_scenario import AT, DAY, uk_order
from integrations_pipelines_tests.sync.test_xero_changes import store

END = DAY + timedelta(days=1)


@pytest.fixture
def books(engine):
    server, xero = start_xero(per_minute=FAST)
    settings = XeroSettings(server.url, f"{server.url}/connect/token", xero.tokens.client_id,
                            xero.tokens.client_secret, xero.books.tenant_id,
                            bootstrap_refresh_token=xero.tokens.current_refresh_token)
    client = connect(settings, engine, per_minute=FAST)
    with client.http:
        yield client, xero
    server.stop()


def sync(engine, client) -> None:
    outcome = order_sync(engine, client, ENTRY).run(StoredOrders(engine, DAY, END))
    assert outcome.dead_lettered == 0, outcome.dead_letter_reasons


def test_a_partially_paid_order_is_a_partial_payment_judged_by_what_is_outstanding(
        engine, books):
    client, xero = books
    order = uk_order(1, [LineSpec("Sofa", Decimal("300.00"))], financial_status="partially_paid")
    order["total_outstanding"] = "200.00"  # a deposit of 100 was taken
    store(engine, order)
    sync(engine, client)
    [invoice] = read_back(engine, client, DAY, END, None).invoices
    assert (invoice["Status"], invoice["AmountPaid"], invoice["AmountDue"]) == (
        "AUTHORISED", 100.0, 200.0)
    with engine.connect() as conn:
        assert reconcile(conn, ENTRY, DAY, END, client.tenant_id).discrepant_count == 0

    # The customer pays the rest: Shopify says nothing is outstanding any more.
    order.update(financial_status="paid", total_outstanding="0.00",
                 updated_at=(AT + timedelta(days=2)).isoformat())
    store(engine, order)
    sync(engine, client)
    [invoice] = read_back(engine, client, DAY, END, None).invoices
    assert (invoice["Status"], invoice["AmountPaid"], invoice["AmountDue"]) == (
        "PAID", 300.0, 0.0)

    # A bookkeeper deletes the payment: Xero's AmountPaid no longer says what Shopify says.
    assert [p["Amount"] for p in invoice["Payments"]] == [100.0, 200.0]  # the rest added
    xero.books.delete_payment(invoice["Payments"][1]["PaymentID"])
    read_back(engine, client, DAY, END, None)
    with engine.connect() as conn:
        report = reconcile(conn, ENTRY, DAY, END, client.tenant_id)
    assert report.counts["wrong_values"] == 1


def test_a_partially_paid_order_without_an_outstanding_amount_is_a_dead_letter(engine, books):
    client, _ = books
    store(engine, uk_order(2, [LineSpec("Lamp", Decimal("40.00"))],
                           financial_status="partially_paid"))
    outcome = order_sync(engine, client, ENTRY).run(StoredOrders(engine, DAY, END))
    assert dict(outcome.dead_letter_reasons) == {"unknown_payment": 1}


def test_vat_per_rate_is_net_of_refunds_and_reads_xero_credit_notes(engine, books):
    client, xero = books
    refunded = uk_order(3, [LineSpec("Mug", Decimal("12.00"), 2),
                            LineSpec("Baby seat", Decimal("21.00"))], tax_rate="0.2")
    refunded["line_items"][1]["tax_lines"][0].update(rate=0.05)  # the reduced rate
    for line in refunded["line_items"][1]["tax_lines"]:
        line["price"] = line["price_set"]["shop_money"]["amount"] = line["price_set"][
            "presentment_money"]["amount"] = "1.00"
    refunded["total_tax"] = "5.00"
    for side in ("shop_money", "presentment_money"):
        refunded["total_tax_set"][side]["amount"] = "5.00"
    apply_refund(refunded, at=AT + timedelta(days=3), refund_id=61, transaction_id=62,
                 lines=[(refunded["line_items"][0]["id"], 1)])
    store(engine, refunded)
    sync(engine, client)
    books_read = read_back(engine, client, DAY, END, None)
    [note] = books_read.credit_notes
    assert (note["Status"], note["Allocations"][0]["Amount"]) == ("PAID", 12.0)
    assert books_read.tax_rates["OUTPUT2"] == Decimal("0.2")
    with engine.connect() as conn:
        stored = raw.window(conn, credit_notes_kind(client.tenant_id), DAY, END)
        assert [r.record_key for r in stored] == [note["CreditNoteID"]]
        vat = vat_by_rate(conn, ENTRY, DAY, END, client.tenant_id, books_read.tax_rates)
    assert not vat.differences
    # 4.00 of VAT sold at 20% less the 2.00 refunded; 1.00 at 5%.
    assert (vat.shopify["0.2"], vat.xero["0.2"]) == (Decimal("2.00"), Decimal("2.00"))
    assert (vat.shopify["0.05"], vat.xero["0.05"]) == (Decimal("1.00"), Decimal("1.00"))

    # A bookkeeper takes the credit note back in Xero: the VAT it carried is owed again,
    # and the check names the standard rate with both figures.
    [allocation] = xero.books.credit_notes[note["CreditNoteID"]]["Allocations"]
    xero.books.delete_allocation(note["CreditNoteID"], allocation["AllocationID"])
    xero.books.update_credit_note(note["CreditNoteID"], {"Status": "VOIDED"})
    books_read = read_back(engine, client, DAY, END, None)
    with engine.connect() as conn:
        vat = vat_by_rate(conn, ENTRY, DAY, END, client.tenant_id, books_read.tax_rates)
    assert vat.differences == {"0.2": (Decimal("2.00"), Decimal("4.00"))}
