"""The seeds' scenario, as a test: a UK shop's day booked into Xero while the same shop is
still booked into QuickBooks (a business moving from one to the other).

The day has an emoji product name, a partial refund with VAT, a multi-currency order, a
gift card, an unpaid order and an order in a currency the Xero organisation does not take.
Every order ends in Xero or as a dead letter with a reason (Xero's own words for the one it
refuses); the reconciliation is green, then names exactly what a bookkeeper changed; nothing
is "synced" that Xero does not hold; the two pairs keep separate ledgers and budgets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.defs.pairs import pair_definitions
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
    XeroResource,
)
from integrations_pipelines.defs.shopify_to_quickbooks.pair import pair_spec as quickbooks_spec
from integrations_pipelines.defs.shopify_to_xero.pair import pair_spec as xero_spec
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.sandbox.server import start_quickbooks
from integrations_pipelines.sandbox.shopify_orders import LineSpec, apply_refund, make_order
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.state.tables import dead_letters, request_budgets, sync_ledger

pytestmark = pytest.mark.slow

DAY = date(2026, 11, 3)
AT = datetime(2026, 11, 3, 9, tzinfo=UTC)
FAST = 6000
FLAGSHIP = integration("shopify_to_quickbooks")
UK_BOOKS = FLAGSHIP.model_copy(update={"quickbooks": FLAGSHIP.quickbooks.model_copy(update={
    "country": "GB", "tax_codes": {"0.2": "2", "0.05": "3"}, "untaxed_tax_code_id": "4",
    "sales_tax_code_id": None})})
UK_COMPANY = {"country": "GB", "home_currency": "GBP",
              "tax_codes": {"2": "0.20", "3": "0.05", "4": "0"}}
XERO = ShopifyToXeroEntry(
    name="shopify_to_xero", description="The same shop into Xero.", source="shopify",
    destination="xero", owner="team:finance-data", owner_email="finance@example.com",
    slack_channel="#finance", timezone="UTC", partitions_start=date(2026, 10, 1),
    schedule={"hour": 2, "minute": 45}, freshness_sla_hours=26, expected_daily_volume=6,
    prefix_asset_keys=True)  # the flagship owns shopify/orders


def uk_order(n: int, lines: list[LineSpec], **kw) -> dict:
    return make_order(order_id=8_800_000_000_000_000_000 + n, order_number=2000 + n,
                      created_at=AT + timedelta(minutes=n), lines=lines,
                      shop_currency="GBP", taxes_included=True,
                      tax_rate=kw.pop("tax_rate", "0.2"),
                      customer={"id": 90 + n, "first_name": "Ada", "last_name": f"Shopper{n}",
                                "email": f"ada{n}@example.com"}, **kw)


@pytest.fixture
def seeds_day() -> dict[str, dict]:
    refunded = uk_order(2, [LineSpec("Mug", Decimal("10.00"), 3),
                            LineSpec("Jam", Decimal("6.30"), taxable=False)], tax_rate="0.2")
    apply_refund(refunded, at=AT + timedelta(hours=5), refund_id=7001, transaction_id=7002,
                 lines=[(refunded["line_items"][0]["id"], 1)])
    return {
        "emoji": uk_order(1, [LineSpec("Unicorn mug \U0001F984", Decimal("14.40"))]),
        "partial_refund": refunded,
        "multi_currency": uk_order(3, [LineSpec("Scarf", Decimal("40.00"))],
                                   presentment_currency="EUR", rate="0.86"),
        "gift_card": uk_order(4, [LineSpec("Gift card", Decimal("25.00"), gift_card=True,
                                           taxable=False),
                                  LineSpec("Candle", Decimal("18.00"))]),
        "unpaid": uk_order(5, [LineSpec("Tea towel", Decimal("12.00"), 2)],
                           financial_status="pending", tax_rate="0.05"),
        "refused": uk_order(6, [LineSpec("Watch strap", Decimal("30.00"))],
                            presentment_currency="CHF", rate="0.90"),
    }


def test_the_seeds_day_in_xero_beside_quickbooks(database_url, engine, dagster_instance,
                                                 shop_sandbox, seeds_day):
    orders = seeds_day
    shop_server, shop = shop_sandbox(list(orders.values()))
    qbo_server, qbo = start_quickbooks(**UK_COMPANY)
    xero_server, xero = start_xero(per_minute=FAST)
    try:
        defs = dg.Definitions.merge(
            *pair_definitions([quickbooks_spec(UK_BOOKS), xero_spec(XERO)]),
            dg.Definitions(resources={
                "store": IntegrationStore(database_url=database_url),
                "shopify": ShopifyResource(base_url=shop_server.url,
                                           access_token=shop.access_token),
                "quickbooks": QuickBooksResource(
                    base_url=qbo_server.url, token_url=f"{qbo_server.url}/oauth2/v1/tokens/bearer",
                    client_id=qbo.tokens.client_id, client_secret=qbo.tokens.client_secret,
                    realm_id=qbo.realm_id,
                    bootstrap_refresh_token=qbo.tokens.current_refresh_token),
                "xero": XeroResource(
                    base_url=xero_server.url, token_url=f"{xero_server.url}/connect/token",
                    client_id=xero.tokens.client_id, client_secret=xero.tokens.client_secret,
                    tenant_id=xero.books.tenant_id,
                    bootstrap_refresh_token=xero.tokens.current_refresh_token,
                    per_minute=FAST)}))
        dg.Definitions.validate_loadable(defs)
        keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
        assert {"shopify/orders", "quickbooks/invoices", "shopify_to_xero/shopify/orders",
                "shopify_to_xero/invoice_sync", "shopify_to_xero/xero/invoices"} <= keys

        def run(job: str) -> dg.ExecuteInProcessResult:
            return defs.resolve_job_def(job).execute_in_process(
                partition_key=DAY.isoformat(), instance=dagster_instance, raise_on_error=False)

        books_run, xero_run = run("shopify_to_quickbooks_job"), run("shopify_to_xero_job")
        assert books_run.success and xero_run.success
        reconciled = {c.check_name: c for c in xero_run.get_asset_check_evaluations()}
        assert reconciled["invoices_match_shopify_orders"].passed
        assert reconciled["vat_per_rate_matches_shopify"].passed

        with engine.connect() as conn:
            ledger = {(r.integration, r.source_id): r for r in conn.execute(
                sa.select(sync_ledger))}
            letters = {r.source_id: r for r in conn.execute(sa.select(dead_letters).where(
                dead_letters.c.integration == XERO.name, dead_letters.c.resolved_at.is_(None)))}
            budgets = {r.bucket for r in conn.execute(sa.select(request_budgets.c.bucket))}
        invoices = {i["InvoiceNumber"]: i for i in xero.books.query_invoices(None, None, None)}

        # Every order in Xero or a dead letter with Xero's own reason; nothing else.
        ids = {name: str(order["id"]) for name, order in orders.items()}
        assert set(letters) == {ids["refused"]}
        assert "CHF" in letters[ids["refused"]].reason
        assert "not subscribed" in letters[ids["refused"]].reason  # Xero's words
        assert letters[ids["refused"]].reason_code == "xero_validation"
        synced = {sid: row for (who, sid), row in ledger.items() if who == XERO.name}
        assert set(synced) == set(ids.values()) - {ids["refused"]}
        # Nothing says "synced" that Xero does not hold.
        held = {i["InvoiceID"] for i in invoices.values()}
        assert {row.destination_id for row in synced.values()} <= held

        def invoice(name: str) -> dict:
            return invoices[f"S{orders[name]['order_number']}"]

        emoji = invoice("emoji")
        assert emoji["LineItems"][0]["Description"] == "Unicorn mug [UNICORN FACE]"
        # The original is kept beside the invoice, escaped (Xero refuses the character).
        [note] = xero.books.history[emoji["InvoiceID"]]
        assert "line[0]: Unicorn mug \\U0001f984" in note["Details"]
        refunded = invoice("partial_refund")
        assert refunded["AmountCredited"] == 10.0 and refunded["Status"] == "PAID"
        [note] = [n for n in xero.books.credit_notes.values()
                  if n["CreditNoteNumber"].startswith(refunded["InvoiceNumber"])]
        assert (note["Total"], note["TotalTax"], note["LineItems"][0]["TaxType"]) == (
            10.0, 1.67, "OUTPUT2")
        euro = invoice("multi_currency")
        assert (euro["CurrencyCode"], euro["CurrencyRate"]) == ("EUR", 1.17)  # Xero's rate
        card = invoice("gift_card")["LineItems"][0]
        assert (card["AccountCode"], card["TaxType"]) == ("835", "NONE")
        unpaid = invoice("unpaid")
        assert (unpaid["Status"], unpaid["AmountDue"]) == ("AUTHORISED", unpaid["Total"])
        assert unpaid["LineItems"][0]["TaxType"] == "RROUTPUT"

        # Both pairs booked the same shop, each in its own ledger and its own budget.
        assert {sid for who, sid in ledger if who == "shopify_to_quickbooks"} >= (
            set(ids.values()) - {ids["refused"]})
        assert f"xero:{xero.books.tenant_id}:minute" in budgets
        assert f"quickbooks:{qbo.realm_id}:minute" in budgets

        # A bookkeeper voids the euro invoice in Xero: the check names exactly that.
        with httpx.Client(base_url=xero_server.url) as admin:
            admin.patch(f"/_sandbox/invoices/{euro['InvoiceID']}",
                        json={"Status": "VOIDED"}).raise_for_status()
        again = run("shopify_to_xero_job")
        assert not again.success
        [check] = [c for c in again.get_asset_check_evaluations()
                   if c.check_name == "invoices_match_shopify_orders"]
        assert not check.passed
        named = {k: v for k, v in check.metadata["discrepant_keys"].value.items() if v}
        assert named == {"wrong_values": [euro["InvoiceNumber"]]}
    finally:
        qbo_server.stop()
        xero_server.stop()
