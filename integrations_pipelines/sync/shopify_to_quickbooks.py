"""Shopify orders -> QuickBooks invoices, idempotently, committed one order at a time.

For each order version: map it (or dead-letter it, or settle it as skipped by the catalog's
policy); skip it when the ledger already holds the same desired state or a newer source
version; otherwise find the invoice (ledger, else lookup by DocNumber — the external key —
so a crash between QuickBooks' create and our commit is recovered), then create, update or
void it with a `requestid` derived from the desired state, and commit the ledger row. An
invoice found by DocNumber that does not carry our `shopify:order:<id>` marker was not
written by us: it is never overwritten (a `destination_conflict` dead letter naming both
sides) unless the catalog says `existing_invoices: adopt`. Mapping, ledger reads and
DocNumber lookups are done for the whole window up front; each write commits on its own, so
a crash loses at most one commit, and that one is recovered by the DocNumber lookup on the
re-run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.shopify_to_quickbooks import (
    ORDER_MARKER,
    CustomerDraft,
    InvoiceDraft,
    MappingRejected,
    MappingSkipped,
    business_date,
    map_order,
)
from integrations_pipelines.sync import dead_letters, ledger
from integrations_pipelines.vendors.errors import PermanentVendorError, QuickBooksFault
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, quote
from integrations_pipelines.vendors.shopify.models import Order

STALE_OBJECT = "5010"
OBJECT_NOT_FOUND = "610"
DUPLICATE_NAME = "6240"
SKIPPED = "skipped"
Mapper = Callable[[Order, Integration], InvoiceDraft | MappingRejected | MappingSkipped]


class DestinationConflict(Exception):
    """An invoice with our external key that this integration did not write."""


@dataclass
class SyncOutcome:
    """What one sync did, by result; `dead_letter_reasons` counts by reason code."""

    created: int = 0
    updated: int = 0
    voided: int = 0
    unchanged: int = 0
    stale_skipped: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    conflicts: int = 0
    adopted: int = 0
    duplicates_seen: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return (
            self.created
            + self.updated
            + self.voided
            + self.unchanged
            + self.stale_skipped
            + self.dead_lettered
            + self.skipped
        )


def request_id(*parts: str) -> str:
    """A deterministic QuickBooks `requestid` (<= 50 chars) for one intended write."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


class InvoiceSync:
    """Syncs orders of one integration into one QuickBooks company, through the pair's
    mapping (`mapper`: `map_order` unless a test gives another)."""

    def __init__(self, engine: sa.Engine, qbo: QuickBooksClient, integration: Integration,
                 mapper: Mapper = map_order) -> None:
        self.engine = engine
        self.qbo = qbo
        self.integration = integration
        self.mapper = mapper
        self._customer_ids: dict[str, str] = {}

    def run(
        self,
        orders: Iterable[tuple[Order, dict[str, Any]]],
        *,
        force: Collection[str] = (),
    ) -> SyncOutcome:
        """Sync each (validated order, raw payload) pair; returns the counts.

        The window is planned first: every order is mapped, the ledger is read in one query
        and the invoices of the orders that need a write are looked up by DocNumber in a few
        batched queries, so an order costs about one QuickBooks request plus its customer.
        `force` names source ids whose destination is known to be wrong (reconciliation's
        repair): they are rewritten even when the ledger says the last write is current.
        """
        outcome = SyncOutcome()
        settled: list[str] = []  # already current in QuickBooks: any old dead letter is moot
        advanced: list[tuple[Order, Any]] = []  # newer version, same invoice (e.g. a tag edit)
        planned: list[tuple[Order, dict[str, Any], InvoiceDraft, Any]] = []
        skipped: list[tuple[Order, MappingSkipped]] = []
        drafts = [(order, raw, self.mapper(order, self.integration)) for order, raw in orders]
        with self.engine.connect() as conn:
            entries = ledger.get_many(
                conn, self.integration.name, [str(order.id) for order, _, _ in drafts]
            )
        for order, raw, draft in drafts:
            if isinstance(draft, MappingRejected):
                self._dead_letter(order, raw, "map", draft.reason_code, draft.reason, outcome)
                continue
            if isinstance(draft, MappingSkipped):
                outcome.skipped += 1
                outcome.skip_reasons[draft.reason_code] += 1
                skipped.append((order, draft))
                continue
            entry = entries.get(draft.source_id)
            if entry is not None and entry.source_version > order.updated_at:
                outcome.stale_skipped += 1  # a newer version was already written
                continue
            if (entry is not None and entry.payload_hash == draft.payload_hash()
                    and draft.source_id not in force):
                outcome.unchanged += 1
                settled.append(draft.source_id)
                if order.updated_at > entry.source_version:
                    advanced.append((order, entry))
                continue
            planned.append((order, raw, draft, entry))
        with self.engine.begin() as conn:
            for order, skip in skipped:
                # Settled by policy: in the ledger, so nothing counts it as lost.
                ledger.upsert(conn, ledger.LedgerEntry(
                    integration=self.integration.name, source_id=str(order.id),
                    business_date=business_date(order, self.integration.timezone),
                    source_version=order.updated_at, destination_id="",
                    destination_key="", payload_hash=f"skip:{skip.reason_code}",
                    status=SKIPPED))
                dead_letters.resolve(conn, self.integration.name, str(order.id))
            for source_id in settled:
                dead_letters.resolve(conn, self.integration.name, source_id)
            for order, entry in advanced:
                # The invoice already says what this version says: record that it is current.
                ledger.upsert(conn, ledger.LedgerEntry(
                    integration=entry.integration, source_id=entry.source_id,
                    business_date=entry.business_date, source_version=order.updated_at,
                    destination_id=entry.destination_id,
                    destination_key=entry.destination_key, payload_hash=entry.payload_hash,
                    status=entry.status, destination_updated_at=entry.destination_updated_at))
        found = self._invoices_by_doc_number([draft.doc_number for _, _, draft, _ in planned])
        for order, raw, draft, entry in planned:
            self._sync_planned(order, raw, draft, entry, found.get(draft.doc_number, []),
                               outcome)
        return outcome

    def _invoices_by_doc_number(self, doc_numbers: list[str]) -> dict[str, list[dict]]:
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for invoice in self.qbo.find_invoices_by_doc_numbers(doc_numbers):
            by_doc.setdefault(invoice.get("DocNumber") or "", []).append(invoice)
        return by_doc

    def _sync_planned(
        self,
        order: Order,
        raw: dict[str, Any],
        draft: InvoiceDraft,
        planned_entry: Any,
        candidates: list[dict[str, Any]],
        outcome: SyncOutcome,
    ) -> None:
        """Write one order inside its critical section: one writer per order.

        A transaction-scoped PostgreSQL advisory lock on (integration, order) is held from
        the ledger re-read through the QuickBooks write to the ledger commit, so two runs of
        the same order (the nightly run and a backfill, a re-run while the first still
        writes, change capture) take turns: the second sees the first's ledger row and
        updates that invoice, or skips as unchanged or stale. A writer that crashed after
        QuickBooks' create but before its commit left no ledger row; the create's stable
        `requestid` then makes QuickBooks answer with that invoice instead of a second one.
        """
        name = self.integration.name
        digest = draft.payload_hash()
        with self.engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                sa.func.hashtext(name), sa.func.hashtext(draft.source_id))))
            entry = ledger.get(conn, name, draft.source_id)
            if not _same_entry(entry, planned_entry):
                # Another writer got here between our plan and our turn.
                if entry is not None and entry.source_version > order.updated_at:
                    outcome.stale_skipped += 1
                    return
                if entry is not None and entry.payload_hash == digest:
                    outcome.unchanged += 1
                    return
                candidates = []  # planned before that write: find it through the ledger
            refused = dead_letters.refusals(conn, name, draft.source_id)
            try:
                invoice, action = self._write(draft, digest, entry, candidates, outcome,
                                              refused)
            except DestinationConflict as conflict:
                outcome.conflicts += 1
                self._dead_letter(order, raw, "write", "destination_conflict", str(conflict),
                                  outcome)
                return
            except QuickBooksFault as fault:
                if STALE_OBJECT in fault.codes:
                    raise  # concurrent edit twice in a row: let the run fail loudly
                self._dead_letter(
                    order, raw, "write", f"quickbooks_{'_'.join(fault.codes)}", str(fault),
                    outcome, request_id=fault.request_id,
                )
                return
            setattr(outcome, action, getattr(outcome, action) + 1)
            ledger.upsert(
                conn,
                ledger.LedgerEntry(
                    integration=name,
                    source_id=draft.source_id,
                    business_date=business_date(order, self.integration.timezone),
                    source_version=order.updated_at,
                    destination_id=invoice["Id"],
                    destination_key=draft.doc_number,
                    payload_hash=digest,
                    status="voided" if draft.voided else "synced",
                    destination_updated_at=last_updated(invoice),
                ),
            )
            dead_letters.resolve(conn, name, draft.source_id)

    def _write(
        self,
        draft: InvoiceDraft,
        digest: str,
        entry: Any,
        candidates: list[dict[str, Any]],
        outcome: SyncOutcome,
        refused: int = 0,
    ) -> tuple[dict[str, Any], str]:
        """Create, update or void the invoice; returns it and what was done. `refused`: how
        many times an earlier attempt was dead-lettered (each retry gets a new create key)."""
        current = self._find_invoice(entry, candidates, draft, outcome)
        if current is None:
            body = draft.to_qbo(self._customer_id(draft.customer))
            # One create per order whatever its version: a create that reached QuickBooks
            # but not our ledger (a crash) is answered again, not repeated. A re-create after
            # the invoice was deleted in QuickBooks must not be answered with the deleted one
            # (the old id is part of the key), nor a retry after a refusal with the refusal
            # (the number of refusals is).
            previous = entry.destination_id if entry is not None else ""
            current = self.qbo.create_invoice(
                body, request_id("create", draft.source_id, previous, str(refused))
            )
            if _answers_an_older_version(current, draft):
                current = self._update(current, body, digest)
            if not draft.voided:
                return current, "created"
        elif _is_voided(current):
            # QuickBooks cannot un-void; a voided invoice stays the record of a cancellation.
            return current, "unchanged" if draft.voided else "voided"
        elif not draft.voided:
            body = draft.to_qbo(self._customer_id(draft.customer))
            return self._update(current, body, digest), "updated"
        voided = self.qbo.void_invoice(
            current["Id"],
            current["SyncToken"],
            request_id("void", draft.source_id, current["Id"], current["SyncToken"]),
        )
        return voided, "voided"

    def _update(self, current: dict[str, Any], body: dict[str, Any], digest: str) -> dict:
        for attempt in range(2):
            try:
                return self.qbo.update_invoice(
                    {**body, "Id": current["Id"], "SyncToken": current["SyncToken"]},
                    request_id("update", current["Id"], current["SyncToken"], digest),
                )
            except QuickBooksFault as fault:
                if STALE_OBJECT not in fault.codes or attempt:
                    raise
                current = self.qbo.get_invoice(current["Id"])  # someone edited it meanwhile
        raise AssertionError("unreachable")

    def _find_invoice(
        self, entry: Any, candidates: list[dict[str, Any]], draft: InvoiceDraft,
        outcome: SyncOutcome,
    ) -> dict[str, Any] | None:
        """The invoice for this order: the ledger's, else the oldest with its DocNumber that
        carries our marker for this order.

        `candidates` are the invoices found by DocNumber (the external key), which is how a
        crash between QuickBooks' create and our ledger commit is recovered on the re-run.
        One without our marker was written by someone else: a conflict, or adopted when the
        catalog says so.
        """
        if len(candidates) > 1:
            outcome.duplicates_seen += len(candidates) - 1  # reconciliation reports them
        if entry is not None:
            for invoice in candidates:
                if invoice["Id"] == entry.destination_id:
                    return invoice
            try:
                return self.qbo.get_invoice(entry.destination_id)  # its DocNumber was edited
            except PermanentVendorError as exc:
                if not _is_not_found(exc):
                    raise
                # Deleted in QuickBooks since we wrote it: fall back to the external key.
        if not candidates:
            return None
        marker = f"{ORDER_MARKER}{draft.source_id}"
        ours = [inv for inv in candidates if marker in (inv.get("PrivateNote") or "")]
        if ours:
            return min(ours, key=lambda inv: int(inv["Id"]))
        found = min(candidates, key=lambda inv: int(inv["Id"]))
        if self.integration.quickbooks.existing_invoices == "adopt":
            outcome.adopted += 1
            return found
        customer = (found.get("CustomerRef") or {}).get("name") or "?"
        raise DestinationConflict(
            f"QuickBooks already holds invoice {found['Id']} with DocNumber "
            f"{draft.doc_number} (customer {customer!r}, total {found.get('TotalAmt')} "
            f"{(found.get('CurrencyRef') or {}).get('value', '')}) that this integration did "
            f"not write (no {marker} marker); Shopify order {draft.source_id} "
            f"({draft.customer.display_name}, total {draft.total} {draft.currency}) was not "
            "written over it. Renumber or delete the other invoice, or set the catalog's "
            "quickbooks.existing_invoices to adopt, then replay this dead letter.")

    def _customer_id(self, customer: CustomerDraft) -> str:
        """Find the customer by its stable tag, or create it."""
        if customer.tag in self._customer_ids:
            return self._customer_ids[customer.tag]
        pattern = "%" + customer.tag
        found = self.qbo.find_customers(f"DisplayName like {quote(pattern)}")
        if found:
            customer_id = sorted(found, key=lambda c: int(c["Id"]))[0]["Id"]
        else:
            try:
                customer_id = self.qbo.create_customer(
                    customer.to_qbo(), request_id("customer", customer.display_name)
                )["Id"]
            except QuickBooksFault as fault:
                if DUPLICATE_NAME not in fault.codes:
                    raise
                # Created by a concurrent run since our lookup: find it again.
                customer_id = self.qbo.find_customers(
                    f"DisplayName = {quote(customer.display_name)}"
                )[0]["Id"]
        self._customer_ids[customer.tag] = customer_id
        return customer_id

    def _dead_letter(
        self,
        order: Order,
        raw: dict[str, Any],
        stage: str,
        code: str,
        reason: str,
        outcome: SyncOutcome,
        request_id: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            dead_letters.record(
                conn,
                dead_letters.DeadLetter(
                    integration=self.integration.name,
                    source_id=str(order.id),
                    business_date=business_date(order, self.integration.timezone),
                    stage=stage,
                    reason_code=code,
                    reason=reason,
                    payload=raw,
                    vendor_request_id=request_id,
                ),
            )
        outcome.dead_lettered += 1
        outcome.dead_letter_reasons[code] += 1


def _same_entry(now: Any, planned: Any) -> bool:
    """The ledger row is the one the plan saw (none then and now, or the same write)."""
    if now is None or planned is None:
        return now is None and planned is None
    return (now.payload_hash, now.source_version, now.destination_id) == (
        planned.payload_hash, planned.source_version, planned.destination_id)


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


def last_updated(invoice: dict[str, Any]) -> datetime | None:
    """The invoice's `MetaData.LastUpdatedTime` (QuickBooks' own version clock), if given."""
    text = (invoice.get("MetaData") or {}).get("LastUpdatedTime")
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _is_voided(invoice: dict[str, Any]) -> bool:
    return (invoice.get("PrivateNote") or "").startswith("Voided")
