"""The Shopify -> QuickBooks pair bound to the shared sync engine.

The engine (`sync/engine.py`) plans the window, skips by ledger hash, guards against stale
versions, dead-letters and commits one order at a time; the pair's mapping
(`mapping/shopify_to_quickbooks.py`) turns an order into an invoice draft; QuickBooks'
writer (`vendors/quickbooks/writer.py`) finds, creates, updates or voids the invoice. This
module only wires the three together with the catalog entry's options.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.shopify_to_quickbooks import (
    ORDER_MARKER,
    business_date,
    map_order,
)
from integrations_pipelines.sync.engine import SKIPPED, RecordSync, SyncOutcome
from integrations_pipelines.sync.roles import MappingRejected, MappingSkipped
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient
from integrations_pipelines.vendors.quickbooks.drafts import InvoiceDraft
from integrations_pipelines.vendors.quickbooks.writer import InvoiceWriter, request_id
from integrations_pipelines.vendors.shopify.models import Order

__all__ = ["SKIPPED", "InvoiceSync", "Mapper", "SyncOutcome", "request_id"]

Mapper = Callable[[Order, Integration], InvoiceDraft | MappingRejected | MappingSkipped]


def InvoiceSync(engine: sa.Engine, qbo: QuickBooksClient, integration: Integration,
                mapper: Mapper = map_order) -> RecordSync[Order, InvoiceDraft]:
    """The sync of one integration's orders into one QuickBooks company, through the pair's
    mapping (`map_order` unless a test gives another)."""
    writer = InvoiceWriter(qbo, owner_marker=ORDER_MARKER, source_label="Shopify order",
                           adopt_existing=integration.quickbooks.existing_invoices == "adopt")
    return RecordSync(engine, integration, writer, mapper, business_date)
