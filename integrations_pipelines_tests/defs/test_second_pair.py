"""The kit's worked example runs through Dagster: Shopify orders into a warehouse table.

The pair (`defs/shopify_to_warehouse/`) is built by the same factory as the flagship, from
a catalog entry of its own, and runs against the Shopify sandbox over HTTP and a real
PostgreSQL warehouse schema: every order is a row that states what Shopify states, or a dead
letter with the warehouse's reason (one refused row never blocks the others); a re-load
writes nothing; a row someone broke by hand fails the reconciliation with its class, and the
factory's repair job puts it right.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.kit import build_pair
from integrations_pipelines.defs.pairs import pair_definitions
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    ShopifyResource,
    WarehouseResource,
)
from integrations_pipelines.defs.shopify_to_warehouse.pair import pair_spec
from integrations_pipelines.mapping.shopify_to_warehouse import orders_table
from integrations_pipelines.mapping.shopify_to_warehouse_entry import ShopifyToWarehouseEntry
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.state.tables import dead_letters

DAY = date(2026, 11, 3)
NAME = "shop_to_warehouse"
ENTRY = ShopifyToWarehouseEntry(
    name=NAME, description="Shopify orders into the analytics warehouse.", source="shopify",
    destination="warehouse", owner="team:analytics", owner_email="analytics@example.com",
    slack_channel="#analytics", partitions_start=date(2026, 11, 1),
    schedule={"hour": 3, "minute": 0}, freshness_sla_hours=26, expected_daily_volume=40,
    warehouse={"schema_name": "analytics_test", "orders_table": "orders"},
)
CHECKS = {
    "shopify/orders:orders_conform_to_contract",
    "shopify/orders:shopify_api_version_is_current",
    f"{NAME}/order_load:every_order_loaded_or_dead_lettered",
    "warehouse/orders:rows_match_shopify_orders",
}
TOO_BIG = "999999999999999.00"  # more than NUMERIC(14, 2) holds


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {f"{c.asset_key.to_user_string()}:{c.check_name}": c.passed
            for c in result.get_asset_check_evaluations()}


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict:
    return {k: v.value for k, v in
            result.asset_materializations_for_node(node)[0].metadata.items()}


@pytest.fixture
def shop_day():
    orders = [o for o in generate_shop(seed=5, start=DAY, days=1, orders_per_day=40)]
    # One order whose total the warehouse column cannot hold: its row is refused.
    refused = copy.deepcopy(next(o for o in orders if not o["test"]
                                 and o.get("cancelled_at") is None))
    for field in ("total_price_set", "current_total_price_set"):
        if refused.get(field):
            refused[field]["shop_money"]["amount"] = TOO_BIG
    orders = [refused if o["id"] == refused["id"] else o for o in orders]
    return orders, refused


def test_the_worked_example_loads_reconciles_and_repairs_through_dagster(
        database_url, engine, dagster_instance, shop_sandbox, shop_day):
    orders, refused = shop_day
    shop_server, shop = shop_sandbox(orders)
    spec = pair_spec(ENTRY)
    defs = dg.Definitions.merge(build_pair(spec), dg.Definitions(resources={
        "store": IntegrationStore(database_url=database_url),
        "shopify": ShopifyResource(base_url=shop_server.url, access_token=shop.access_token),
        "warehouse": WarehouseResource(url=database_url),
    }))
    dg.Definitions.validate_loadable(defs)
    def run(job_name: str = f"{NAME}_job",
            run_config: dict[str, Any] | None = None) -> dg.ExecuteInProcessResult:
        return defs.resolve_job_def(job_name).execute_in_process(
            partition_key=DAY.isoformat(), instance=dagster_instance, raise_on_error=False,
            run_config=run_config)

    first = run()
    assert first.success and _checks(first) == dict.fromkeys(CHECKS, True), _checks(first)

    table = orders_table(ENTRY)
    with engine.connect() as conn:
        rows = {r.external_key: r for r in conn.execute(sa.select(table))}
        letters = {r.source_id: r for r in conn.execute(
            sa.select(dead_letters).where(dead_letters.c.resolved_at.is_(None)))}
    loadable = [o for o in orders if not o["test"] and o["id"] != refused["id"]]
    assert set(rows) == {str(o["id"]) for o in loadable}
    assert set(letters) == {str(refused["id"])}
    assert letters[str(refused["id"])].reason_code == "warehouse_rejected_value"
    assert "numeric field overflow" in letters[str(refused["id"])].reason
    for order in loadable:  # what Shopify states about the order now
        row = rows[str(order["id"])]
        current = order.get("current_total_price_set") or order["total_price_set"]
        assert row.current_total == Decimal(current["shop_money"]["amount"]), order["name"]
        assert row.currency == order["currency"] and row.voided == bool(order["cancelled_at"])
    load = _metadata(first, f"{NAME}__order_load")
    assert (load["rows_created"], load["orders_dead_lettered"]) == (len(loadable), 1)
    assert load["orders_skipped_by_policy"] == sum(1 for o in orders if o["test"])

    again = run()  # a re-load of the unchanged day writes nothing
    assert again.success
    load = _metadata(again, f"{NAME}__order_load")
    assert (load["rows_created"], load["rows_updated"], load["rows_unchanged"]) == (
        0, 0, len(loadable))

    # Someone breaks two rows by hand: one total edited, one row deleted.
    edited, deleted = str(loadable[0]["id"]), str(loadable[1]["id"])
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.external_key == edited)
                     .values(current_total=Decimal("0.01")))
        conn.execute(table.delete().where(table.c.external_key == deleted))
    broken = run()
    assert not broken.success  # the blocking reconciliation stops the run
    [check] = [c for c in broken.get_asset_check_evaluations()
               if c.check_name == "rows_match_shopify_orders"]
    assert not check.passed
    assert (check.metadata["wrong_values"].value, check.metadata["missing"].value) == (1, 1)
    assert check.metadata["discrepant_keys"].value["wrong_values"] == [edited]
    assert check.metadata["discrepant_keys"].value["missing"] == [deleted]

    # A run config that does not name the read-back, as a launch through GraphQL or
    # `dagster job launch` sends (the job's default `repair: true` is only the UI's prefill;
    # in process, Dagster applies it only when no config at all is given): the repair job
    # still repairs.
    repaired = run(f"{NAME}_repair_job", run_config={"loggers": {}})
    assert repaired.success, _checks(repaired)
    metadata = _metadata(repaired, "warehouse__orders")
    assert metadata["repair_orders_reloaded"] == 2
    with engine.connect() as conn:
        fixed = {r.external_key: r for r in conn.execute(
            sa.select(table).where(table.c.external_key.in_([edited, deleted])))}
    assert set(fixed) == {edited, deleted}
    assert fixed[edited].current_total == Decimal(
        (loadable[0].get("current_total_price_set") or loadable[0]["total_price_set"])
        ["shop_money"]["amount"])

    sample = defs.resolve_job_def(f"{NAME}_reconciliation_sample_job").execute_in_process(
        run_config={"ops": {f"{NAME}__sample_comparison": {"config": {
            "partition": DAY.isoformat(), "n": 5}}}}, instance=dagster_instance)
    [step] = sample.get_step_success_events()
    assert sample.success and step.step_key == f"{NAME}__sample_comparison"


def test_two_pairs_on_one_shop_need_the_key_prefix():
    other = ENTRY.model_copy(update={"name": "another_shop_to_warehouse"})
    with pytest.raises(ValueError, match=r"shopify/orders .*another_shop_to_warehouse"):
        pair_definitions([pair_spec(ENTRY), pair_spec(other)])

    prefixed = other.model_copy(update={"prefix_asset_keys": True})
    defs = dg.Definitions.merge(
        *pair_definitions([pair_spec(ENTRY), pair_spec(prefixed)]),
        dg.Definitions(resources={"store": IntegrationStore(), "shopify": ShopifyResource(),
                                  "warehouse": WarehouseResource()}))
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert keys == {"shopify/orders", f"{NAME}/order_load", "warehouse/orders",
                    "another_shop_to_warehouse/shopify/orders",
                    "another_shop_to_warehouse/order_load",
                    "another_shop_to_warehouse/warehouse/orders"}
    checks = {f"{k.asset_key.to_user_string()}:{k.name}"
              for k in defs.resolve_asset_graph().asset_check_keys}
    assert "another_shop_to_warehouse/shopify/orders:orders_conform_to_contract" in checks


def test_the_documented_catalog_entry_loads_beside_the_flagship():
    """docs/ADDING_AN_INTEGRATION.md's entry, as written, joins the shipped catalog."""
    import re
    from pathlib import Path

    import yaml

    from integrations_pipelines.catalog import ENTRY_MODELS, load_catalog
    from integrations_pipelines.definitions import VENDOR_RESOURCES, vendor_resource
    from integrations_pipelines.defs.pairs import pair_spec as spec_for

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ADDING_AN_INTEGRATION.md").read_text()
    [(name, fields)] = yaml.safe_load(re.search(r"```yaml\n(.*?)```", doc, re.S)[1]).items()
    assert ENTRY_MODELS[(fields["source"], fields["destination"])].endswith(
        ":ShopifyToWarehouseEntry")
    documented = ShopifyToWarehouseEntry(name=name, **fields)
    specs = [spec_for(e) for e in load_catalog().values()] + [spec_for(documented)]
    defs = dg.Definitions.merge(*pair_definitions(specs), dg.Definitions(resources={
        "store": IntegrationStore(), **{k: make() for k, make in VENDOR_RESOURCES.items()},
        "shopify_uk": vendor_resource("shopify_uk")}))  # the shipped Xero pair's own shop
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"shopify/orders", f"{name}/shopify/orders", f"{name}/warehouse/orders"} <= keys
