"""Shopify into Xero runs through Dagster on the kit: a generated UK shop's day against the
Shopify and Xero sandboxes over HTTP and the real PostgreSQL.

Every order is booked in Xero (invoice as sold, credit notes, payment, void) or is a dead
letter with a reason; new invoices go 50 to a request; a re-run writes nothing; a deleted
invoice and a payment removed by hand fail `invoices_match_shopify_orders` as missing and
wrong_values, and the repair job puts both right.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.kit import build_pair
from integrations_pipelines.defs.resources import IntegrationStore, ShopifyResource, XeroResource
from integrations_pipelines.defs.shopify_to_xero.pair import pair_spec
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.state.tables import dead_letters, sync_ledger

DAY = date(2026, 11, 3)
NAME = "shop_to_xero"
FAST = 6000  # calls a minute the sandbox allows (Xero: 60): pacing in milliseconds
ENTRY = ShopifyToXeroEntry(
    name=NAME, description="Shopify orders into Xero.", source="shopify", destination="xero",
    owner="team:finance-data", owner_email="finance@example.com", slack_channel="#finance",
    timezone="UTC", partitions_start=date(2026, 11, 1), schedule={"hour": 2, "minute": 45},
    freshness_sla_hours=26, expected_daily_volume=40)
CHECKS = {
    "shopify/orders:orders_conform_to_contract",
    "shopify/orders:shopify_api_version_is_current",
    f"{NAME}/invoice_sync:every_order_booked_or_dead_lettered",
    "xero/invoices:invoices_match_shopify_orders",
    "xero/invoices:vat_per_rate_matches_shopify",
    "xero/invoices:no_contract_drift",
    "shopify/orders:order_volume_matches_baseline",
    "xero/invoices:invoices_keep_up_with_orders",
}


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {f"{c.asset_key.to_user_string()}:{c.check_name}": c.passed
            for c in result.get_asset_check_evaluations()}


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict:
    return {k: v.value for k, v in
            result.asset_materializations_for_node(node)[0].metadata.items()}


@pytest.fixture
def xero():
    server, store = start_xero(per_minute=FAST)
    yield server, store
    server.stop()


def xero_resource(server, store) -> XeroResource:
    return XeroResource(base_url=server.url, token_url=f"{server.url}/connect/token",
                        client_id=store.tokens.client_id,
                        client_secret=store.tokens.client_secret,
                        tenant_id=store.books.tenant_id,
                        bootstrap_refresh_token=store.tokens.current_refresh_token,
                        per_minute=FAST)


def test_a_uk_day_is_booked_reconciled_and_repaired_through_dagster(
        database_url, engine, dagster_instance, shop_sandbox, xero):
    orders = generate_shop(seed=6, start=DAY, days=1, orders_per_day=60,
                           shop_currency="GBP", taxes_included=True)
    shop_server, shop = shop_sandbox(orders)
    xero_server, books = xero
    defs = dg.Definitions.merge(build_pair(pair_spec(ENTRY)), dg.Definitions(resources={
        "store": IntegrationStore(database_url=database_url),
        "shopify": ShopifyResource(base_url=shop_server.url, access_token=shop.access_token),
        "xero": xero_resource(xero_server, books)}))
    dg.Definitions.validate_loadable(defs)

    def run(job: str = f"{NAME}_job") -> dg.ExecuteInProcessResult:
        return defs.resolve_job_def(job).execute_in_process(
            partition_key=DAY.isoformat(), instance=dagster_instance, raise_on_error=False)

    first = run()
    assert first.success and checks_of(first) == dict.fromkeys(CHECKS, True), [
        (c.check_name, c.description, [f"{k}={v.value}" for k, v in c.metadata.items()])
        for c in first.get_asset_check_evaluations() if not c.passed]
    sync = metadata(first, f"{NAME}__invoice_sync")
    booked = [o for o in orders if not o["test"]]
    with engine.connect() as conn:
        ledger = {r.source_id: r for r in conn.execute(
            sa.select(sync_ledger).where(sync_ledger.c.integration == NAME))}
        letters = {r.source_id: r for r in conn.execute(sa.select(dead_letters).where(
            dead_letters.c.integration == NAME, dead_letters.c.resolved_at.is_(None)))}
    # Every order ends in Xero or as a dead letter with a reason; nothing else.
    assert {str(o["id"]) for o in orders} == set(ledger) | set(letters)
    assert all(letter.reason for letter in letters.values())
    invoices = {i["InvoiceNumber"]: i for i in books.books.query_invoices(None, None, None)}
    written = [o for o in booked if str(o["id"]) in ledger]
    assert sync["invoices_created"] + sync["invoices_voided"] == len(written) == len(invoices)
    assert len(written) > 50  # new invoices go 50 to a request
    assert books.stats["invoices.put"] == -(-len(written) // 50)
    for order in written:
        invoice = invoices[f"S{order['order_number']}"]
        sold = Decimal(order["total_price_set"]["presentment_money"]["amount"])
        assert Decimal(str(invoice["Total"])) == sold, order["name"]
        assert invoice["CurrencyCode"] == order["presentment_currency"]
    assert any(i["Status"] == "PAID" for i in invoices.values())
    assert any(i["Status"] == "VOIDED" for i in invoices.values())
    assert any(i["AmountCredited"] for i in invoices.values())  # refunds: credit notes

    again = run()
    assert again.success
    sync = metadata(again, f"{NAME}__invoice_sync")
    assert (sync["invoices_created"], sync["invoices_updated"]) == (0, 0)

    # A bookkeeper deletes one invoice and removes the payment from another.
    paid = [i for i in invoices.values() if i["Status"] == "PAID" and i["Payments"]]
    gone, unpaid = next(iter(invoices.values())), paid[-1]
    assert gone is not unpaid
    with httpx.Client(base_url=xero_server.url) as admin:
        admin.delete(f"/_sandbox/invoices/{gone['InvoiceID']}").raise_for_status()
    books.books.delete_payment(unpaid["Payments"][0]["PaymentID"])
    broken = run()
    assert not broken.success
    [check] = [c for c in broken.get_asset_check_evaluations()
               if c.check_name == "invoices_match_shopify_orders"]
    assert not check.passed
    found = check.metadata["discrepant_keys"].value
    assert found["missing"] == [gone["InvoiceNumber"]]
    assert found["wrong_values"] == [unpaid["InvoiceNumber"]]

    repaired = run(f"{NAME}_repair_job")
    assert repaired.success, checks_of(repaired)
    assert metadata(repaired, "xero__invoices")["repair_orders_resynced"] == 2
    now = {i["InvoiceNumber"]: i for i in books.books.query_invoices(None, None, None)
           if i["Status"] != "DELETED"}
    assert now[unpaid["InvoiceNumber"]]["Status"] == "PAID"
    assert now[gone["InvoiceNumber"]]["InvoiceID"] != gone["InvoiceID"]  # booked again


def test_the_shipped_entry_loads_beside_the_flagship_through_the_registries():
    """The catalog finds the entry model, the pair registry the spec, the definitions the
    resources: the shipped Shopify -> Xero entry sits beside the flagship, reading its own UK
    shop (resource shopify_uk)."""
    from integrations_pipelines.catalog import load_catalog
    from integrations_pipelines.definitions import vendor_resource
    from integrations_pipelines.defs import alerting
    from integrations_pipelines.defs.pairs import pair_definitions
    from integrations_pipelines.defs.pairs import pair_spec as spec_for

    catalog = load_catalog()
    shipped = catalog["shopify_to_xero"]
    assert isinstance(shipped, ShopifyToXeroEntry) and shipped.prefix_asset_keys
    assert shipped.xero.tax_types == {"0.2": "OUTPUT2", "0.05": "RROUTPUT",
                                      "0": "ZERORATEDOUTPUT"}
    specs = [spec_for(e) for e in catalog.values()]
    called = {step.resource for spec in specs for step in spec.steps}
    assert {"shopify", "shopify_uk", "xero"} <= called
    oauth = sorted({s for spec in specs for s in spec.oauth_systems})
    assert "xero" in oauth  # token health watches the Xero connections
    defs = dg.Definitions.merge(alerting.alerting_definitions(oauth), *pair_definitions(specs),
                                dg.Definitions(resources={
                                    "store": IntegrationStore(), "alerting":
                                    alerting.AlertingResource(),
                                    **{name: vendor_resource(name) for name in called}}))
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"shopify/orders", "quickbooks/invoices", "shopify_to_xero/shopify/orders",
            "shopify_to_xero/invoice_sync", "shopify_to_xero/xero/invoices",
            "xero/token_health"} <= keys
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert {"shopify_to_xero_job", "shopify_to_xero_repair_job",
            "shopify_to_xero_rolling_reconciliation_job"} <= jobs
