"""dev's Xero pair books its own UK shop (the catalog's `shopify.shop: uk`, a second Shopify
sandbox): the shop's orders map cleanly but for the generator's deliberate refusals, and
the seeds' day (the emoji product, a zero-rated book, a partial refund with VAT, a dollar
order, a gift card, an unpaid and a partially paid order) runs through Dagster into Xero
green, its orders kept apart from the flagship's shop in the raw store."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.kit import build_pair
from integrations_pipelines.defs.resources import IntegrationStore, ShopifyResource
from integrations_pipelines.defs.shopify_to_xero.pair import pair_spec
from integrations_pipelines.mapping.shopify_to_xero import map_order
from integrations_pipelines.mapping.shopify_to_xero_entry import xero_entry
from integrations_pipelines.sandbox.xero_uk_shop import SEEDS_DAY_ORDERS, seeds_day, uk_shop
from integrations_pipelines.state import raw
from integrations_pipelines.state.tables import dead_letters
from integrations_pipelines.sync.roles import MappingRejected
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, orders_kind
from integrations_pipelines_tests.defs.test_shopify_to_xero import xero_resource

ENTRY = xero_entry("shopify_to_xero")  # the shipped catalog's entry: shop "uk"
DAY = date(2026, 12, 2)


def test_the_uk_shop_maps_cleanly_but_for_the_deliberate_refusals():
    orders = [Order.model_validate(p) for p in uk_shop(2026, DAY - timedelta(days=6), 7, 40)]
    refused = Counter(r.reason_code for r in (map_order(o, ENTRY) for o in orders)
                      if isinstance(r, MappingRejected))
    assert set(refused) <= {"discount_exceeds_total", "no_line_items"}, refused
    assert sum(refused.values()) <= len(orders) // 50
    assert {o.presentment_currency for o in orders} >= {"GBP", "EUR", "USD"}
    rates = {float(t.rate) for o in orders for li in o.line_items for t in li.tax_lines}
    assert {0.2, 0.05, 0.0} <= rates


@pytest.mark.slow  # a run of the pair's job through Dagster
def test_the_seeds_day_of_the_uk_shop_is_booked_green(database_url, engine, dagster_instance,
                                                       shop_sandbox):
    from integrations_pipelines.sandbox.xero_app import start_xero

    shop_server, shop = shop_sandbox(seeds_day(DAY))
    xero_server, xero = start_xero(per_minute=6000)
    try:
        defs = dg.Definitions.merge(build_pair(pair_spec(ENTRY)), dg.Definitions(resources={
            "store": IntegrationStore(database_url=database_url),
            "shopify_uk": ShopifyResource(base_url=shop_server.url,
                                          access_token=shop.access_token),
            "xero": xero_resource(xero_server, xero)}))
        result = defs.resolve_job_def("shopify_to_xero_job").execute_in_process(
            partition_key=DAY.isoformat(), instance=dagster_instance, raise_on_error=False)
        failed = [(c.check_name, c.description) for c in result.get_asset_check_evaluations()
                  if not c.passed and c.check_name != "order_volume_matches_baseline"]
        assert result.success and not failed, failed
        with engine.connect() as conn:
            assert raw.count_window(conn, orders_kind("uk"), DAY, DAY + timedelta(days=1)) \
                == SEEDS_DAY_ORDERS
            assert raw.count_window(conn, ORDERS, DAY, DAY + timedelta(days=1)) == 0
            assert not conn.execute(sa.select(dead_letters)).all()
        invoices = {i["InvoiceNumber"]: i for i in xero.books.query_invoices(None, None, None)}
        assert len(invoices) == SEEDS_DAY_ORDERS
        deposit = invoices["S9008"]
        assert (deposit["Status"], deposit["AmountPaid"], deposit["AmountDue"]) == (
            "AUTHORISED", 80.0, 160.0)
        assert invoices["S9003"]["LineItems"][0]["TaxType"] == "ZERORATEDOUTPUT"
        assert invoices["S9005"]["CurrencyCode"] == "USD"
    finally:
        xero_server.stop()
