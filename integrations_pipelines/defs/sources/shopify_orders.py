"""The Shopify orders step, shared by every pair whose source is a Shopify shop.

`shopify/orders` holds the orders created on the partition's day (all statuses), validated
against the project's Order model and stored in the raw store; orders that fail validation
are dead-lettered with the error and their payload, under the pair's name. Its two checks
run in the step: the blocking contract check and the API-version warning. A pair's entry
needs the catalog's `shopify:` block (`vendors.shopify.options.ShopifyOptions`).
"""

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.kit.spec import Step, StepReport, StepRun
from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.defs.resources import ShopifyResource
from integrations_pipelines.state import raw
from integrations_pipelines.sync import dead_letters, extraction
from integrations_pipelines.vendors.contracts import VIOLATION, observations
from integrations_pipelines.vendors.shopify.client import ShopifyClient
from integrations_pipelines.vendors.shopify.options import ShopifyOptions
from integrations_pipelines.vendors.shopify.records import ORDERS as SHOP_ORDERS
from integrations_pipelines.vendors.shopify.records import orders_kind

__all__ = ["API_VERSION_CHECK", "CONTRACT_CHECK", "EXAMPLES", "ORDERS_KEY", "api_version_check",
           "api_version_spec", "contract_check", "contract_spec", "extract_orders",
           "orders_step", "shopify_options"]

ORDERS_KEY = dg.AssetKey(["shopify", "orders"])
EXAMPLES = 10

CONTRACT_CHECK = "orders_conform_to_contract"
API_VERSION_CHECK = "shopify_api_version_is_current"


def contract_spec(asset: dg.AssetKey = ORDERS_KEY) -> dg.AssetCheckSpec:
    """The blocking contract check of an orders asset."""
    return dg.AssetCheckSpec(
        CONTRACT_CHECK, asset=asset, blocking=True,
        description="Every order Shopify returned for the window validated against our model "
        "and could be stored; the others are dead-lettered with the error and their payload. "
        "A few such orders warn and the rest of the window syncs; when every order of the "
        "window fails (a vendor contract change), the check fails at ERROR, which fails the run "
        "once the later steps' checks have reported.",
    )


def api_version_spec(asset: dg.AssetKey = ORDERS_KEY) -> dg.AssetCheckSpec:
    """The API-version warning of an orders asset."""
    return dg.AssetCheckSpec(
        API_VERSION_CHECK, asset=asset,
        description="Shopify served every call in the catalog's API version and flagged none "
        "as deprecated (X-Shopify-API-Version, X-Shopify-API-Deprecated-Reason). Shopify "
        "serves a retired version silently as the oldest supported one: this warns before "
        "that day.",
    )


def shopify_options(entry: Integration) -> ShopifyOptions:
    """The entry's `shopify:` block; a clear error for an entry model without one."""
    options = getattr(entry, "shopify", None)
    if not isinstance(options, ShopifyOptions):
        raise TypeError(f"catalog entry {entry.name!r} ({type(entry).__name__}) has no "
                        "shopify: options block, so it cannot read Shopify orders")
    return options


def contract_check(conn: sa.Connection, integration: str, window: Window,
                   run_id: str | None = None, asset: dg.AssetKey = ORDERS_KEY,
                   kind: raw.RecordKind = SHOP_ORDERS) -> dg.AssetCheckResult:
    """Pass when no order of the window was dead-lettered at validation; WARN for a few
    (they must not hold back the good ones), ERROR when nothing validated (a contract
    change: there is nothing valid to hold back)."""
    rows = dead_letters.open_letters(conn, integration, start=window.first_day,
                                     end=window.end_day, stage="validate")
    stored = raw.count_window(conn, kind, window.first_day, window.end_day)
    everything_broke = bool(rows) and stored == 0
    seen = list(observations(conn, vendor="shopify", kind=VIOLATION, run_id=run_id)
                ) if rows and run_id else []
    changed = "; ".join(f"Order.{o.field_path} ({o.detail}, {o.occurrences} seen; payload "
                        f"captured in contract_observations id {o.id})" for o in seen[:5])
    return dg.AssetCheckResult(
        check_name=CONTRACT_CHECK, asset_key=asset, passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR if everything_broke
        else dg.AssetCheckSeverity.WARN,
        description=None if not rows else (
            ("every order of the window failed validation: vendor contract changed. "
             if everything_broke else "")
            + f"{len(rows)} order(s) dead-lettered at validation, {stored} stored"
            + (f"; {changed}" if changed else "")),
        metadata={"contract_violations": len(rows), "orders_stored": stored,
                  "examples": dg.MetadataValue.json(
                      [{"id": r.source_id, "reason": r.reason[:300]} for r in rows[:EXAMPLES]])},
    )


def api_version_check(client: ShopifyClient, asset: dg.AssetKey) -> dg.AssetCheckResult:
    """WARN when Shopify served another version than asked for, or flagged a call deprecated."""
    served = dict(client.served_versions)
    other = sorted(v for v in served if v != client.api_version)
    problems = ([f"asked for {client.api_version}, Shopify served {', '.join(other)} (the "
                 "asked version is retired or unknown)"] if other else []) + [
        f"{endpoint} deprecated: {reason}" for endpoint, reason in client.deprecations.items()]
    return dg.AssetCheckResult(
        check_name=API_VERSION_CHECK, asset_key=asset, passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) + (
            ". Move the catalog's shopify.api_version to a supported version."
            if problems else "") or None,
        metadata={"configured_version": client.api_version,
                  "served_versions": dg.MetadataValue.json(served),
                  "deprecated_calls": len(client.deprecations),
                  "deprecations": dg.MetadataValue.json(client.deprecations)},
    )


def extract_orders(run: StepRun) -> StepReport:
    """Shopify orders created in the window (all statuses), validated, into the raw store
    a page at a time (the run holds one page, however many days the window covers)."""
    entry, window = run.entry, run.window
    asset = dg.AssetKey(entry.system_key("shopify", "orders"))
    shopify: ShopifyResource = run.vendor
    client = shopify.client(run.metrics, run.store, run.run_id,
                            shopify_options(entry).api_version)
    with vendor_failures(f"extracting Shopify orders {window.label}"), client.http:
        outcome = extraction.store_orders(
            run.engine, entry, window.first_day, window.end_day,
            client.iter_order_pages(created_at_min=window.start, created_at_max=window.end),
            run.run_id, orders_kind(shopify_options(entry).shop))
    with run.engine.connect() as conn:
        contract = contract_check(conn, entry.name, window, run.run_id, asset,
                                  orders_kind(shopify_options(entry).shop))
    return StepReport(
        metadata={"orders_extracted": outcome.extracted, "orders_valid": outcome.stored,
                  "orders_dead_lettered": outcome.dead_lettered,
                  "orders_unstorable": outcome.unstorable, "window": window.label},
        checks=[contract, api_version_check(client, asset)],
        log=f"{outcome.extracted} orders extracted for {window.label}, "
            f"{outcome.dead_lettered} dead-lettered")


def orders_step(entry: Integration) -> Step:
    """The `shopify/orders` step of a pair reading Shopify."""
    options = shopify_options(entry)  # fail at load, not at the first run
    key = dg.AssetKey(entry.system_key("shopify", "orders"))
    return Step(
        key=key, resource=options.resource, group="shopify",
        kinds=frozenset({"shopify", "postgres"}),
        description=f"Shopify orders created on the partition's day (all statuses), validated "
        f"against the project's Order model and stored in the raw store (`raw_records`, "
        f"shopify/orders). Integration: {entry.description}",
        run=extract_orders, check_specs=[contract_spec(key), api_version_spec(key)],
    )
