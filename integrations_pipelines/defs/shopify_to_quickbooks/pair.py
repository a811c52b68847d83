"""The Shopify -> QuickBooks pair on the kit: its spec, and its own extras.

The kit's factory (`defs/kit/`) builds the pair's assets, checks, jobs, schedules, repair
and sample jobs from `pair_spec(entry)`; what only this pair has is merged in as its extras:
change capture from Shopify's `updated_at` feed, the webhook drain and QuickBooks' change
sensor, and the dead-letter replay job.
"""

from datetime import date
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.defs.kit import DriftCheck, PairSpec
from integrations_pipelines.defs.resources import QuickBooksResource
from integrations_pipelines.defs.shopify_to_quickbooks import steps
from integrations_pipelines.defs.shopify_to_quickbooks.change_capture import (
    change_capture_sensor,
    order_changes,
    shopify_to_quickbooks_changes_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.dead_letter_replay import (
    dead_letter_replay_job,
)
from integrations_pipelines.defs.shopify_to_quickbooks.volume import SPEC as VOLUME
from integrations_pipelines.defs.shopify_to_quickbooks.webhooks import (
    books_changed_sensor,
    shopify_to_quickbooks_webhooks_job,
    webhook_deliveries,
    webhook_inbox_sensor,
    webhooks_deliver_changes,
)
from integrations_pipelines.reconciliation import shopify_to_quickbooks as reader
from integrations_pipelines.reconciliation.window import WindowReconciliation

__all__ = ["OAUTH_SYSTEMS", "extras", "pair_spec"]

OAUTH_SYSTEMS = ("quickbooks",)  # the pair's systems whose connections use OAuth tokens


def sample_day(conn: sa.Connection, entry: Integration, day: date,
               quickbooks: Any) -> WindowReconciliation:
    """One day's reconciliation from the store, for the sample job."""
    resource: QuickBooksResource = quickbooks
    return reader.reconcile_day(conn, steps.pair_entry(entry), day,
                                resource.connection_settings().realm_id)


def extras(entry: Integration) -> dg.Definitions:
    """What only this pair has: change capture, webhooks, the replay job."""
    return dg.Definitions(
        assets=[order_changes, webhook_deliveries],
        asset_checks=[webhooks_deliver_changes],
        jobs=[dead_letter_replay_job, shopify_to_quickbooks_changes_job,
              shopify_to_quickbooks_webhooks_job],
        sensors=[change_capture_sensor, webhook_inbox_sensor, books_changed_sensor],
    )


def pair_spec(entry: Integration) -> PairSpec:
    """The flagship's spec for its catalog entry."""
    if entry.name != steps.NAME:
        raise ValueError(f"the shopify_to_quickbooks definitions are built for the catalog "
                         f"entry {steps.NAME!r}, not {entry.name!r}")
    return PairSpec(
        entry=steps.pair_entry(entry), labels=reader.LABELS,
        extract=steps.EXTRACT, sync=steps.SYNC, read_back=steps.READ_BACK,
        sample=sample_day, volume=VOLUME,
        drift=[
            DriftCheck("shopify", steps.ORDERS_KEY,
                       "Shopify orders carried no field that the Order model and its list of "
                       "known Shopify fields lack (new fields are drift: add them to the "
                       "model or its known list)."),
            DriftCheck("quickbooks", steps.INVOICES_KEY,
                       "QuickBooks answers (writes and read-back) carried no field that the "
                       "Invoice and Customer models and their lists of known fields lack."),
        ],
        extra=extras, oauth_systems=OAUTH_SYSTEMS,
    )
