"""Invoices written into one QuickBooks company: the destination writer of every pair that
books into QuickBooks.

QuickBooks' rules live here and nowhere else: `requestid` idempotency keys, SyncToken
optimistic locking (one retry after a concurrent edit), voiding (QuickBooks cannot un-void),
the DocNumber lookup that recovers a create lost in a crash, the ownership marker in
`PrivateNote` that says this integration wrote an invoice, customers found again by their
tag, and which Fault codes make a dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from integrations_pipelines.sync.ledger import LedgerEntry
from integrations_pipelines.sync.roles import DeadLetterReason, DestinationConflict, Written
from integrations_pipelines.vendors.errors import PermanentVendorError
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, quote
from integrations_pipelines.vendors.quickbooks.drafts import CustomerDraft, InvoiceDraft
from integrations_pipelines.vendors.quickbooks.errors import QuickBooksFault

__all__ = ["CONCURRENT_WRITES", "InvoiceWriter", "is_voided", "last_updated", "request_id"]

# Invoice writes in flight at once for one company: QuickBooks answers at most 10 concurrent
# requests per realm (more are refused with 429), and a nightly run, a backfill or a repair
# may call the same realm at the same time; the rate itself is the realm's shared budget's.
CONCURRENT_WRITES = 4

STALE_OBJECT = "5010"
OBJECT_NOT_FOUND = "610"
DUPLICATE_NAME = "6240"
VOIDED_NOTE_PREFIX = "Voided"


def request_id(*parts: str) -> str:
    """A deterministic QuickBooks `requestid` (<= 50 chars) for one intended write."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def is_voided(invoice: dict[str, Any]) -> bool:
    """QuickBooks marks a voided invoice by prefixing its PrivateNote with "Voided"."""
    return (invoice.get("PrivateNote") or "").startswith(VOIDED_NOTE_PREFIX)


def last_updated(invoice: dict[str, Any]) -> datetime | None:
    """The invoice's `MetaData.LastUpdatedTime` (QuickBooks' own version clock), if given."""
    text = (invoice.get("MetaData") or {}).get("LastUpdatedTime")
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


class InvoiceWriter:
    """Writes invoice drafts into the client's company. `owner_marker` + source id is the
    text in PrivateNote that proves an invoice is ours; `adopt_existing` lets a pair take
    over an invoice with its DocNumber that it did not write (catalog
    `existing_invoices: adopt`) instead of dead-lettering the conflict; `source_label`
    names the source record in that dead letter ("Shopify order")."""

    def __init__(self, qbo: QuickBooksClient, *, owner_marker: str,
                 adopt_existing: bool = False, source_label: str = "source record") -> None:
        self.qbo = qbo
        self.owner_marker = owner_marker
        self.source_label = source_label
        self.adopt_existing = adopt_existing
        self._customer_ids: dict[str, str] = {}

    def find_by_external_keys(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The invoices of a window by DocNumber, in a few batched queries."""
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for invoice in self.qbo.find_invoices_by_doc_numbers(list(keys)):
            by_doc.setdefault(invoice.get("DocNumber") or "", []).append(invoice)
        return by_doc

    def dead_letter_reason(self, exc: Exception) -> DeadLetterReason | None:
        """A Fault on one invoice is a dead letter with its codes; a stale object twice in a
        row (concurrent edits) fails the run loudly."""
        if not isinstance(exc, QuickBooksFault) or STALE_OBJECT in exc.codes:
            return None
        return DeadLetterReason(f"quickbooks_{'_'.join(exc.codes)}", str(exc), exc.request_id)

    def write(self, draft: InvoiceDraft, entry: LedgerEntry | None,
              candidates: list[dict[str, Any]], refused: int) -> Written:
        """Create, update or void the invoice. `refused`: how many times an earlier attempt
        was dead-lettered (each retry gets a new create key)."""
        current, duplicates, adopted = self._find(entry, candidates, draft)
        invoice, action = self._apply(draft, entry, current, refused)
        return Written(invoice["Id"], action, last_updated(invoice), duplicates, adopted)

    def _apply(self, draft: InvoiceDraft, entry: LedgerEntry | None,
               current: dict[str, Any] | None, refused: int) -> tuple[dict[str, Any], str]:
        digest = draft.payload_hash()
        if current is None:
            body = draft.to_qbo(self._customer_id(draft.customer))
            # One create per order whatever its version: a create that reached QuickBooks
            # but not our ledger (a crash) is answered again, not repeated. A re-create after
            # the invoice was deleted in QuickBooks must not be answered with the deleted one
            # (the old id is part of the key), nor a retry after a refusal with the refusal
            # (the number of refusals is).
            previous = entry.destination_id if entry is not None else ""
            current = self.qbo.create_invoice(
                body, request_id("create", draft.source_id, previous, str(refused)))
            if _answers_an_older_version(current, draft):
                current = self._update(current, body, digest)
            if not draft.voided:
                return current, "created"
        elif is_voided(current):
            # QuickBooks cannot un-void; a voided invoice stays the record of a cancellation.
            return current, "unchanged" if draft.voided else "voided"
        elif not draft.voided:
            body = draft.to_qbo(self._customer_id(draft.customer))
            return self._update(current, body, digest), "updated"
        voided = self.qbo.void_invoice(
            current["Id"], current["SyncToken"],
            request_id("void", draft.source_id, current["Id"], current["SyncToken"]))
        return voided, "voided"

    def _update(self, current: dict[str, Any], body: dict[str, Any],
                digest: str) -> dict[str, Any]:
        for attempt in range(2):
            try:
                return self.qbo.update_invoice(
                    {**body, "Id": current["Id"], "SyncToken": current["SyncToken"]},
                    request_id("update", current["Id"], current["SyncToken"], digest))
            except QuickBooksFault as fault:
                if STALE_OBJECT not in fault.codes or attempt:
                    raise
                current = self.qbo.get_invoice(current["Id"])  # someone edited it meanwhile
        raise AssertionError("unreachable")

    def _find(self, entry: LedgerEntry | None, candidates: list[dict[str, Any]],
              draft: InvoiceDraft) -> tuple[dict[str, Any] | None, int, bool]:
        """The invoice for this order (the ledger's, else the oldest with its DocNumber
        that carries our marker), the number of duplicates seen, and whether it was adopted.

        `candidates` are the invoices found by DocNumber (the external key), which is how a
        crash between QuickBooks' create and our ledger commit is recovered on the re-run.
        One without our marker was written by someone else: a conflict, or adopted when the
        catalog says so.
        """
        duplicates = max(len(candidates) - 1, 0)  # reconciliation reports them
        if entry is not None:
            for invoice in candidates:
                if invoice["Id"] == entry.destination_id:
                    return invoice, duplicates, False
            try:
                return self.qbo.get_invoice(entry.destination_id), duplicates, False
            except PermanentVendorError as exc:
                if not _is_not_found(exc):
                    raise
                # Deleted in QuickBooks since we wrote it: fall back to the external key.
        if not candidates:
            return None, duplicates, False
        marker = f"{self.owner_marker}{draft.source_id}"
        ours = [inv for inv in candidates if marker in (inv.get("PrivateNote") or "")]
        if ours:
            return min(ours, key=lambda inv: int(inv["Id"])), duplicates, False
        found = min(candidates, key=lambda inv: int(inv["Id"]))
        if self.adopt_existing:
            return found, duplicates, True
        raise DestinationConflict(_conflict_message(found, draft, marker, self.source_label))

    def _customer_id(self, customer: CustomerDraft) -> str:
        """Find the customer by its stable tag, or create it."""
        if customer.tag in self._customer_ids:
            return self._customer_ids[customer.tag]
        found = self.qbo.find_customers(f"DisplayName like {quote('%' + customer.tag)}")
        if found:
            customer_id = str(sorted(found, key=lambda c: int(c["Id"]))[0]["Id"])
        else:
            try:
                customer_id = str(self.qbo.create_customer(
                    customer.to_qbo(), request_id("customer", customer.display_name))["Id"])
            except QuickBooksFault as fault:
                if DUPLICATE_NAME not in fault.codes:
                    raise
                # Created by a concurrent run since our lookup: find it again.
                customer_id = str(self.qbo.find_customers(
                    f"DisplayName = {quote(customer.display_name)}")[0]["Id"])
        self._customer_ids[customer.tag] = customer_id
        return customer_id


def _conflict_message(found: dict[str, Any], draft: InvoiceDraft, marker: str,
                      source_label: str) -> str:
    customer = (found.get("CustomerRef") or {}).get("name") or "?"
    return (
        f"QuickBooks already holds invoice {found['Id']} with DocNumber "
        f"{draft.doc_number} (customer {customer!r}, total {found.get('TotalAmt')} "
        f"{(found.get('CurrencyRef') or {}).get('value', '')}) that this integration did "
        f"not write (no {marker} marker); {source_label} {draft.source_id} "
        f"({draft.customer.display_name}, total {draft.total} {draft.currency}) was not "
        "written over it. Renumber or delete the other invoice, or set the catalog's "
        "quickbooks.existing_invoices to adopt, then replay this dead letter.")


def _answers_an_older_version(invoice: dict[str, Any], draft: InvoiceDraft) -> bool:
    """A create answered from QuickBooks' requestid cache with the invoice an earlier version
    of the order created: its lines or total are not this draft's."""
    sent = [round(float(line.amount), 2) for line in draft.lines]
    kept = [round(float(line.get("Amount", 0)), 2) for line in invoice.get("Line") or []
            if line.get("DetailType") == "SalesItemLineDetail"]
    total = Decimal(str(invoice.get("TotalAmt", 0))).quantize(Decimal("0.01"))
    return kept != sent or total != draft.total


def _is_not_found(exc: PermanentVendorError) -> bool:
    """QuickBooks answers a read of a deleted object with 400 and Fault code 610."""
    if isinstance(exc, QuickBooksFault):
        return OBJECT_NOT_FOUND in exc.codes
    return exc.status == 404
