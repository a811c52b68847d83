"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import dagster as dg

from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)
from integrations_pipelines.defs.shopify_to_quickbooks import assets as s2q
from integrations_pipelines.defs.shopify_to_quickbooks.jobs import (
    shopify_to_quickbooks_job,
    shopify_to_quickbooks_job_schedule,
)
from integrations_pipelines.defs.shopify_to_quickbooks.repair import (
    invoice_repair,
    shopify_to_quickbooks_repair_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.sampling import (
    shopify_to_quickbooks_reconciliation_sample_job,
)


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """Definitions with resources from the environment, or the given overrides (tests)."""
    return dg.Definitions(
        assets=[s2q.shopify_orders, s2q.invoice_sync, s2q.quickbooks_invoices, invoice_repair],
        jobs=[shopify_to_quickbooks_job, shopify_to_quickbooks_repair_job,
              shopify_to_quickbooks_reconciliation_sample_job],
        schedules=[shopify_to_quickbooks_job_schedule],
        resources={
            "store": IntegrationStore(),
            "shopify": ShopifyResource(),
            "quickbooks": QuickBooksResource(),
            **(resources or {}),
        },
    )


defs = build_definitions()
