"""Invoices someone changed in Xero: which days of the Xero pair to read back and
reconcile now, not next night.

A bookkeeper deletes our payment, voids an invoice, takes a credit note back: the books no
longer say what Shopify says. Xero tells us two ways, both feeding this module:

- its webhooks (`x-xero-signature`, kept in the receiver's inbox): each event names a
  resource of one tenant (`eventCategory` INVOICE, `resourceId`), never its content, so
  the named invoices of our tenant are re-read (`GET /Invoices?IDs=...`) for their status
  and `UpdatedDateUTC`; an invoice Xero no longer returns is a deletion;
- `If-Modified-Since` reads of invoices and credit notes (every few minutes, from a cursor):
  the safety net for events that never came, and the only news of a credit note Xero's
  webhooks do not cover (a credit note names its invoice through its allocations, or its
  order through our marker in `Reference`).

Each change is then judged against the ledger exactly as QuickBooks' are
(`sync/books_changes.days_to_reconcile`): a change no later than the `UpdatedDateUTC` our
last write left is ours; a later one is someone else's, and its order's creation day is
reconciled. Invoices this integration never wrote are not ours to judge.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from integrations_pipelines.mapping.shopify_to_xero import ORDER_MARKER
from integrations_pipelines.state.tables import sync_ledger
from integrations_pipelines.sync.books_changes import InvoiceChange
from integrations_pipelines.vendors.xero.client import XeroClient
from integrations_pipelines.vendors.xero.writer import updated_at

__all__ = ["EVENT_CATEGORIES", "notified_invoice_ids", "polled_changes", "reread_changes"]

EVENT_CATEGORIES = frozenset({"INVOICE", "CREDITNOTE"})
MARKER = re.compile(re.escape(ORDER_MARKER) + r"(\d+)")


def notified_invoice_ids(body: str, tenant_id: str) -> list[str]:
    """The resources of our tenant that one delivery says changed (invoices; credit notes
    too, should Xero send them), in order and once each. Events of other tenants or about
    other resources (contacts) are not ours. Raises ValueError for a body that is not a
    Xero delivery."""
    document = json.loads(body)
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise ValueError("no events list")
    found: dict[str, None] = {}
    for event in events:
        if (isinstance(event, dict) and event.get("tenantId") == tenant_id
                and event.get("eventCategory") in EVENT_CATEGORIES and event.get("resourceId")):
            found[str(event["resourceId"])] = None
    return list(found)


def _change(invoice: dict[str, object]) -> InvoiceChange:
    status = invoice.get("Status")
    operation = {"VOIDED": "Void", "DELETED": "Delete"}.get(str(status), "Update")
    return InvoiceChange(str(invoice["InvoiceID"]), operation, updated_at(dict(invoice)))


def reread_changes(client: XeroClient, ids: Iterable[str]) -> list[InvoiceChange]:
    """Re-read the notified invoices: each as Xero now states it, with its own
    `UpdatedDateUTC` (the time the judge compares with our last write); one Xero no longer
    returns was deleted (time unknown: always someone else's)."""
    wanted = list(dict.fromkeys(ids))
    held = {str(i["InvoiceID"]): i for i in client.invoices_by_ids(wanted)}
    return [_change(held[i]) if i in held else InvoiceChange(i, "Delete", None)
            for i in wanted]


def polled_changes(conn: sa.Connection, integration: str, client: XeroClient,
                   since: datetime) -> list[InvoiceChange]:
    """What Xero says changed after `since` (`If-Modified-Since`): invoices, and credit
    notes as changes of the invoice they belong to (their allocations, else the order our
    marker names, through the ledger), at the credit note's own `UpdatedDateUTC`."""
    changes = [_change(i) for i in client.invoices_modified_since(since)]
    notes = list(client.credit_notes_modified_since(since))
    orders = {m.group(1) for n in notes
              if (m := MARKER.search(str(n.get("Reference") or ""))) is not None}
    # `.all()`: a result has a `keys()` method, so dict() would take it for a mapping.
    invoice_of = dict(conn.execute(
        sa.select(sync_ledger.c.source_id, sync_ledger.c.destination_id).where(
            sync_ledger.c.integration == integration,
            sync_ledger.c.source_id.in_(sorted(orders)))).all()) if orders else {}
    for note in notes:
        invoices = {str((a.get("Invoice") or {}).get("InvoiceID"))
                    for a in note.get("Allocations") or []}
        marker = MARKER.search(str(note.get("Reference") or ""))
        if marker is not None and invoice_of.get(marker.group(1)):
            invoices.add(str(invoice_of[marker.group(1)]))
        changes += [InvoiceChange(i, "Update", updated_at(note)) for i in sorted(invoices)]
    return changes
