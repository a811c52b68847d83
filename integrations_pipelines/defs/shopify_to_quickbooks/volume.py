"""The flagship's expected-volume checks: `order_volume_matches_baseline` on `shopify/orders`
and `invoices_keep_up_with_orders` on `quickbooks/invoices` (the generic rules live in
`defs/alerting/volume.py`; this module names the records and their likely causes, and the
kit's factory builds the checks)."""

from integrations_pipelines.defs.alerting.volume import VolumeSpec
from integrations_pipelines.defs.resources import QuickBooksResource
from integrations_pipelines.defs.shopify_to_quickbooks.steps import (
    CATALOG,
    INVOICES_KEY,
    ORDERS_KEY,
    PARTITIONS,
)
from integrations_pipelines.sync.shopify_to_quickbooks import SKIPPED
from integrations_pipelines.vendors.quickbooks.records import invoices_kind
from integrations_pipelines.vendors.shopify.records import ORDERS

__all__ = ["SPEC"]


def _realm(quickbooks: QuickBooksResource) -> str:
    return quickbooks.connection_settings().realm_id


SPEC = VolumeSpec(
    integration=CATALOG, partitions=PARTITIONS,
    source_key=ORDERS_KEY, source_kind=ORDERS,
    destination_key=INVOICES_KEY, destination_kind=invoices_kind,
    account_resource="quickbooks", destination_account=_realm,
    volume_check="order_volume_matches_baseline", behind_check="invoices_keep_up_with_orders",
    zero_cause="the shop stopped taking orders, or the extraction cannot see them "
               "(credentials, filters, a partition computed in the wrong timezone)",
    low_cause="an outage at the shop, or orders lost by the extraction (pagination, filters, "
              "a partition computed in the wrong timezone)",
    behind_cause="invoice writes failed or were throttled without a dead letter, or invoices "
                 "were deleted in QuickBooks; see the run's http_failures and the "
                 "invoices_match_shopify_orders check",
    skipped_status=SKIPPED, words=("orders", "invoices"),
)
