"""Everything Dagster runs for the Shopify -> QuickBooks pair, as one Definitions object.

`definitions.py` merges it with the project-wide alerting; this module is the pair's only
entry point, so a second pair is a sibling folder with a `pair.py` of its own, registered
in `defs/pairs.py` under the catalog entry's name.
"""

import dagster as dg

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs import alerting
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
    shopify_to_quickbooks_repair_job,
    shopify_to_quickbooks_rolling_reconciliation_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.sampling import (
    shopify_to_quickbooks_reconciliation_sample_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.volume import VOLUME_CHECKS
from integrations_pipelines.defs.shopify_to_quickbooks.webhooks import (
    books_changed_sensor,
    shopify_to_quickbooks_webhooks_job,
    webhook_deliveries,
    webhook_inbox_sensor,
    webhooks_deliver_changes,
)

__all__ = ["OAUTH_SYSTEMS", "pair_definitions"]

OAUTH_SYSTEMS = ("quickbooks",)  # the pair's systems whose connections use OAuth tokens


def pair_definitions(entry: Integration) -> dg.Definitions:
    """The pair's assets, checks, jobs, schedules and sensors for its catalog entry."""
    if entry.name != s2q.NAME:
        raise ValueError(f"the shopify_to_quickbooks definitions are built for the catalog "
                         f"entry {s2q.NAME!r}, not {entry.name!r}")
    return dg.Definitions(
        assets=[*alerting.with_freshness_policies([s2q.shopify_orders, s2q.invoice_sync,
                                                   s2q.quickbooks_invoices]),
                order_changes, webhook_deliveries],
        asset_checks=[*CONTRACT_CHECKS, *VOLUME_CHECKS, webhooks_deliver_changes],
        jobs=[shopify_to_quickbooks_job, shopify_to_quickbooks_repair_job,
              shopify_to_quickbooks_reconciliation_sample_job, dead_letter_replay_job,
              shopify_to_quickbooks_changes_job, shopify_to_quickbooks_rolling_reconciliation_job,
              shopify_to_quickbooks_webhooks_job],
        schedules=[shopify_to_quickbooks_job_schedule, rolling_reconciliation],
        sensors=[change_capture_sensor, webhook_inbox_sensor, books_changed_sensor],
    )
