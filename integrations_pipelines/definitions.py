"""The one Definitions object: each catalog entry's pair, built by the kit's factory,
merged with the project-wide alerting and the resources (`dg.Definitions.merge`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg

from integrations_pipelines.catalog import load_catalog
from integrations_pipelines.defs import alerting
from integrations_pipelines.defs.pairs import pair_definitions, pair_spec
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
    WarehouseResource,
    XeroResource,
)
from integrations_pipelines.defs.sources.stripe_resource import StripeResource

__all__ = ["VENDOR_RESOURCES", "build_definitions", "defs", "vendor_resource"]


# Each vendor's resource, configured from the environment by name (`dg.EnvVar`: the UI
# shows the variable, never its value); a deployment gets those its catalog's pairs call.
VENDOR_RESOURCES: dict[str, Callable[[], Any]] = {
    "shopify": lambda: ShopifyResource(base_url=dg.EnvVar("SHOPIFY_BASE_URL"),
                                       access_token=dg.EnvVar("SHOPIFY_ACCESS_TOKEN")),
    "quickbooks": lambda: QuickBooksResource(client_id=dg.EnvVar("QBO_CLIENT_ID"),
                                             client_secret=dg.EnvVar("QBO_CLIENT_SECRET"),
                                             realm_id=dg.EnvVar("QBO_REALM_ID")),
    "warehouse": WarehouseResource,  # WAREHOUSE_URL, else the store's database
    "stripe": lambda: StripeResource(api_key=dg.EnvVar("STRIPE_API_KEY")),
    "xero": lambda: XeroResource(client_id=dg.EnvVar("XERO_CLIENT_ID"),
                                 client_secret=dg.EnvVar("XERO_CLIENT_SECRET"),
                                 tenant_id=dg.EnvVar("XERO_TENANT_ID")),
}


def vendor_resource(name: str) -> Any:
    """The resource of `name`: a vendor's, or a named Shopify shop's (`shopify_<shop>`,
    from SHOPIFY_<SHOP>_BASE_URL and SHOPIFY_<SHOP>_ACCESS_TOKEN)."""
    if name in VENDOR_RESOURCES:
        return VENDOR_RESOURCES[name]()
    if name.startswith("shopify_"):
        prefix = f"SHOPIFY_{name.removeprefix('shopify_').upper()}"
        return ShopifyResource(base_url=dg.EnvVar(f"{prefix}_BASE_URL"),
                               access_token=dg.EnvVar(f"{prefix}_ACCESS_TOKEN"))
    raise KeyError(f"no resource for {name!r}")


def build_definitions(resources: dict[str, Any] | None = None) -> dg.Definitions:
    """Definitions with resources from the environment, or the given overrides (tests)."""
    specs = [pair_spec(entry) for entry in load_catalog().values()]
    oauth = sorted({system for spec in specs for system in spec.oauth_systems})
    called = sorted({step.resource for spec in specs
                     for step in spec.steps})
    wiring = dg.Definitions(
        resources={
            "store": IntegrationStore(database_url=dg.EnvVar("DATABASE_URL")),
            **{name: vendor_resource(name) for name in called},
            "alerting": alerting.AlertingResource(),
            **(resources or {}),
        },
    )
    return dg.Definitions.merge(alerting.alerting_definitions(oauth),
                                *pair_definitions(specs), wiring)


defs = build_definitions()
