"""Invoices someone changed in QuickBooks: which days to reconcile now, not next night.

A bookkeeper edits an invoice's amount, voids it or deletes it: the books no longer say
what Shopify says, and before webhooks only the nightly reconciliation noticed. QuickBooks
tells us two ways, both feeding this module: its webhook notifications (`dataChangeEvent`,
in the inbox) and, as the safety net for notifications that never came, ChangeDataCapture
(`/cdc`, 30 days of history). Each names an invoice, the operation and its
`LastUpdatedTime`.

Our own writes are notified too. The ledger keeps the `LastUpdatedTime` our last write left
(`destination_updated_at`): a change at or before it is ours; a later one is someone else's,
and its order's creation day is reconciled (the nightly job's steps over that partition:
read both sides again, classify, alert, repair). Invoices this integration never wrote are
not ours to judge.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.state.tables import sync_ledger

__all__ = ["CLOUD_EVENT_OPERATIONS", "InvoiceChange", "cdc_changes", "days_to_reconcile",
           "notified_changes"]


@dataclass(frozen=True)
class InvoiceChange:
    """One change QuickBooks reports about an invoice."""

    invoice_id: str
    operation: str  # Create | Update | Delete | Void | Merge | Emailed
    last_updated: datetime | None


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) \
            if isinstance(value, str) else None
    except ValueError:
        return None


CLOUD_EVENT_OPERATIONS = {"created": "Create", "updated": "Update", "deleted": "Delete",
                          "voided": "Void", "merged": "Merge", "emailed": "Emailed"}


def notified_changes(body: str, realm_id: str) -> list[InvoiceChange]:
    """The invoice changes of one webhook notification for our company (other realms and
    entities are someone else's), in the legacy `eventNotifications` format or as
    CloudEvents (`type: qbo.invoice.updated.v1`, `intuitentityid`, `intuitaccountid`)."""
    document = json.loads(body)
    if isinstance(document, list):
        return [_cloud_event(e) for e in document
                if isinstance(e, dict) and str(e.get("intuitaccountid")) == str(realm_id)
                and str(e.get("type", "")).startswith("qbo.invoice.")
                and e.get("intuitentityid") is not None]
    changes = []
    for notification in document.get("eventNotifications") or []:
        if str(notification.get("realmId")) != str(realm_id):
            continue
        for entity in (notification.get("dataChangeEvent") or {}).get("entities") or []:
            if entity.get("name") == "Invoice" and entity.get("id") is not None:
                changes.append(InvoiceChange(str(entity["id"]), str(entity.get("operation")),
                                             _time(entity.get("lastUpdated"))))
    return changes


def _cloud_event(event: dict[str, Any]) -> InvoiceChange:
    verb = str(event["type"]).split(".")[2] if str(event["type"]).count(".") >= 3 else ""
    return InvoiceChange(str(event["intuitentityid"]),
                         CLOUD_EVENT_OPERATIONS.get(verb, verb.capitalize()),
                         _time(event.get("time")))


def cdc_changes(invoices: Iterable[dict[str, Any]]) -> list[InvoiceChange]:
    """ChangeDataCapture's invoices as changes (a deleted one carries `status: Deleted`)."""
    return [InvoiceChange(str(inv["Id"]),
                          "Delete" if inv.get("status") == "Deleted" else "Update",
                          _time((inv.get("MetaData") or {}).get("LastUpdatedTime")))
            for inv in invoices if inv.get("Id") is not None]


def days_to_reconcile(conn: sa.Connection, integration: str,
                      changes: Iterable[InvoiceChange]) -> dict[date, list[InvoiceChange]]:
    """The creation days whose invoices someone other than us changed, with the changes.

    A change is ours when it is no later than the `LastUpdatedTime` our last write left
    (or, for a ledger entry older than that column, than our ledger commit)."""
    changes = list(changes)
    ids = sorted({c.invoice_id for c in changes})
    if not ids:
        return {}
    ledger = sync_ledger.c
    entries = {row.destination_id: row for row in conn.execute(
        sa.select(ledger.destination_id, ledger.business_date, ledger.destination_updated_at,
                  ledger.synced_at)
        .where(ledger.integration == integration, ledger.destination_id.in_(ids)))}
    days: dict[date, list[InvoiceChange]] = defaultdict(list)
    for change in changes:
        entry = entries.get(change.invoice_id)
        if entry is None or change.operation == "Emailed":
            continue  # not an invoice this integration wrote, or nothing in it changed
        ours_until = entry.destination_updated_at or entry.synced_at
        if change.last_updated is not None and change.last_updated <= ours_until:
            continue  # our own write, notified back
        days[entry.business_date].append(change)
    return dict(days)
