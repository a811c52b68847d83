"""The one Definitions object: each catalog entry's pair, built by the kit's factory,
merged with the project-wide alerting and the resources (`dg.Definitions.merge`)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from integrations_pipelines.catalog import load_catalog
from integrations_pipelines.defs import alerting
from integrations_pipelines.defs.pairs import pair_definitions, pair_spec
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)

__all__ = ["build_definitions", "defs"]


def build_definitions(resources: dict[str, Any] | None = None) -> dg.Definitions:
    """Definitions with resources from the environment, or the given overrides (tests)."""
    specs = [pair_spec(entry) for entry in load_catalog().values()]
    oauth = sorted({system for spec in specs for system in spec.oauth_systems})
    wiring = dg.Definitions(
        resources={
            "store": IntegrationStore(database_url=dg.EnvVar("DATABASE_URL")),
            "shopify": ShopifyResource(base_url=dg.EnvVar("SHOPIFY_BASE_URL"),
                                       access_token=dg.EnvVar("SHOPIFY_ACCESS_TOKEN")),
            "quickbooks": QuickBooksResource(client_id=dg.EnvVar("QBO_CLIENT_ID"),
                                             client_secret=dg.EnvVar("QBO_CLIENT_SECRET"),
                                             realm_id=dg.EnvVar("QBO_REALM_ID")),
            "alerting": alerting.AlertingResource(),
            **(resources or {}),
        },
    )
    return dg.Definitions.merge(alerting.alerting_definitions(oauth),
                                *pair_definitions(specs), wiring)


defs = build_definitions()
