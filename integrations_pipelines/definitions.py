"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import dagster as dg

from integrations_pipelines.defs import alerting
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)
from integrations_pipelines.defs.shopify_to_quickbooks import assets as s2q
from integrations_pipelines.defs.shopify_to_quickbooks.change_capture import (
    change_capture_sensor,
    order_changes,
    shopify_to_quickbooks_changes_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.contract_checks import CONTRACT_CHECKS
from integrations_pipelines.defs.shopify_to_quickbooks.dead_letter_replay import (
    dead_letter_replay_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.jobs import (
    rolling_reconciliation,
    shopify_to_quickbooks_job,
    shopify_to_quickbooks_job_schedule,
    shopify_to_quickbooks_rolling_reconciliation_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.repair import (
    invoice_repair,
    shopify_to_quickbooks_repair_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.sampling import (
    shopify_to_quickbooks_reconciliation_sample_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.webhooks import (
    books_changed_sensor,
    shopify_to_quickbooks_webhooks_job,
    webhook_deliveries,
    webhook_inbox_sensor,
    webhooks_deliver_changes,
)


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    """Definitions with resources from the environment, or the given overrides (tests)."""
    return dg.Definitions(
        assets=[*alerting.with_freshness_policies([s2q.shopify_orders, s2q.invoice_sync,
                                                   s2q.quickbooks_invoices, invoice_repair]),
                order_changes, webhook_deliveries,
                *alerting.ALERTING_ASSETS],
        asset_checks=[*alerting.ALERTING_CHECKS, *CONTRACT_CHECKS, webhooks_deliver_changes],
        jobs=[shopify_to_quickbooks_job, shopify_to_quickbooks_repair_job,
              shopify_to_quickbooks_reconciliation_sample_job, dead_letter_replay_job,
              shopify_to_quickbooks_changes_job, shopify_to_quickbooks_rolling_reconciliation_job,
              shopify_to_quickbooks_webhooks_job],
        schedules=[shopify_to_quickbooks_job_schedule, rolling_reconciliation],
        sensors=[*alerting.ALERTING_SENSORS, change_capture_sensor, webhook_inbox_sensor,
                 books_changed_sensor],
        resources={
            "store": IntegrationStore(),
            "shopify": ShopifyResource(),
            "quickbooks": QuickBooksResource(),
            "alerting": alerting.AlertingResource(),
            **(resources or {}),
        },
    )


defs = build_definitions()
